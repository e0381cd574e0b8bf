"""Per-meter state (sequence, boot, last total, open gaps) and what each reading means against it.

The state lives in a SQLite file shared by every worker of a node, updated in one
`BEGIN IMMEDIATE` transaction per batch after the store confirmed the batch, so two
workers handling the same meter (a `$share` group deals messages round robin) see each
other's updates in order and a restarted or different worker continues where the last
one stopped. Readings are classified here; none is refused here: the register is what
the device said. What counts as a reset is the one consumption rule's segment break
(core.consumption), so the ingest's `reset` count and the usage API's `resets` agree.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from core.consumption import Mark, Rule
from core.readings import Reading
from storage.readings.base import StoreError

MAX_OPEN_GAPS = 16  # ranges of missing seqs remembered per meter; older ones count as lost

# Event kinds (docs/ingest.md, "What a reading means"):
NEW = "new"  # the next reading
DUPLICATE = "duplicate"  # already stored: a redelivery or a replay of a stored reading
LATE = "late"  # older than the newest, fills a known gap (replayed out of order)
GAP = "gap"  # seqs skipped: `missing` counts them
NEW_BOOT = "new_boot"  # boot counter changed
RESET = "reset"  # a segment break by core.consumption (register reset or set, board replaced)
SEQ_RESTART = "seq_restart"  # newer reading with a lower seq (board replaced / flash wiped)
TOTAL_DECREASE = "total_decrease"  # total fell within one boot: the device broke the protocol
IMPOSSIBLE_FLOW = "impossible_flow"  # more litres per minute than any meter passes
KINDS = (NEW, DUPLICATE, LATE, GAP, NEW_BOOT, RESET, SEQ_RESTART, TOTAL_DECREASE, IMPOSSIBLE_FLOW)


@dataclass(slots=True)
class MeterState:
    """What the pipeline knows about one meter; survives workers (kept in the state DB)."""

    meter: str
    boot: int
    seq: int  # highest seq of the newest reading
    ts_s: int  # device time of the newest reading
    total_ml: int  # register total of the newest reading
    readings: int = 0  # new + late readings stored
    duplicates: int = 0
    late: int = 0
    gaps: int = 0  # gap events
    missing: int = 0  # seqs skipped and not (yet) filled by late readings
    resets: int = 0
    boots: int = 0
    anomalies: int = 0  # seq_restart + total_decrease + impossible_flow
    open_gaps: list[list[int]] = field(default_factory=list)  # [[lo, hi], ...] inclusive
    updated_s: float = 0.0


def _fill_gap(state: MeterState, seq: int) -> bool:
    for i, (lo, hi) in enumerate(state.open_gaps):
        if lo <= seq <= hi:
            parts = [[lo, seq - 1]] if seq > lo else []
            parts += [[seq + 1, hi]] if seq < hi else []
            state.open_gaps[i : i + 1] = parts
            return True
    return False


def classify(
    state: MeterState | None, r: Reading, max_flow_lpm: float, rule: Rule | None = None
) -> tuple[MeterState, list[str]]:
    """The meter's state after reading r, and the events r caused (device readings: seq and boot)."""
    rule = rule or Rule(max_flow_lpm=max_flow_lpm)
    if state is None:
        return MeterState(r.meter, r.boot, r.seq, r.ts_s, r.total_ml, readings=1), [NEW]
    events: list[str] = []
    if r.ts_s == state.ts_s or (r.ts_s < state.ts_s and not _fill_gap(state, r.seq)):
        state.duplicates += 1
        return state, [DUPLICATE]
    if r.ts_s < state.ts_s:
        state.late += 1
        state.missing -= 1
        state.readings += 1
        return state, [LATE]
    events.append(NEW)
    if r.boot != state.boot:
        events.append(NEW_BOOT)
        state.boots += 1
    if r.seq <= state.seq:
        events.append(SEQ_RESTART)
        state.open_gaps.clear()
        state.missing = 0
    elif r.seq > state.seq + 1:
        events.append(GAP)
        state.gaps += 1
        state.missing += r.seq - state.seq - 1
        state.open_gaps.append([state.seq + 1, r.seq - 1])
        del state.open_gaps[:-MAX_OPEN_GAPS]
    # Only a drop or a new boot can break a segment: the common reading skips building Marks.
    breaks = (r.total_ml < state.total_ml or r.boot != state.boot) and rule.breaks(
        Mark(state.ts_s, state.total_ml, state.boot), Mark(r.ts_s, r.total_ml, r.boot)
    )
    if breaks:
        events.append(RESET)
        state.resets += 1
    if r.total_ml < state.total_ml and r.boot == state.boot:
        events.append(TOTAL_DECREASE)  # a pulse counter never runs back within a boot
    elif not breaks and (r.total_ml - state.total_ml) / 1000 > max_flow_lpm * (r.ts_s - state.ts_s) / 60:
        events.append(IMPOSSIBLE_FLOW)
    state.anomalies += sum(e in (SEQ_RESTART, TOTAL_DECREASE, IMPOSSIBLE_FLOW) for e in events)
    state.boot, state.seq, state.ts_s, state.total_ml = r.boot, r.seq, r.ts_s, r.total_ml
    state.readings += 1
    return state, events


_COLUMNS = (
    "meter",
    "boot",
    "seq",
    "ts_s",
    "total_ml",
    "readings",
    "duplicates",
    "late",
    "gaps",
    "missing",
    "resets",
    "boots",
    "anomalies",
    "open_gaps",
    "updated_s",
)
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS meter_state (meter TEXT PRIMARY KEY, {', '.join(_COLUMNS[1:])}) "
    "WITHOUT ROWID"
)
_INSERT = f"INSERT OR REPLACE INTO meter_state VALUES ({', '.join('?' * len(_COLUMNS))})"


def _row(s: MeterState) -> tuple:
    return (
        s.meter,
        s.boot,
        s.seq,
        s.ts_s,
        s.total_ml,
        s.readings,
        s.duplicates,
        s.late,
        s.gaps,
        s.missing,
        s.resets,
        s.boots,
        s.anomalies,
        json.dumps(s.open_gaps) if s.open_gaps else "[]",
        s.updated_s,
    )


_CHUNK = 500  # SQLite's bound-parameter limit is 999 on old builds


class StateDB:
    """Meter states in one SQLite file, safe for several worker processes on one node."""

    def __init__(self, path: str, max_flow_lpm: float = 1000.0):
        self.max_flow_lpm = max_flow_lpm
        self.rule = Rule(max_flow_lpm=max_flow_lpm)
        self._lock = threading.Lock()  # one connection, used by the writer and the HTTP thread
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def _load(self, meters: list[str]) -> dict[str, MeterState]:
        out: dict[str, MeterState] = {}
        for i in range(0, len(meters), _CHUNK):
            chunk = meters[i : i + _CHUNK]
            rows = self._db.execute(
                f"SELECT * FROM meter_state WHERE meter IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            for row in rows:
                gaps = row[13]
                counts = dict(zip(_COLUMNS[:13], row[:13], strict=True))
                out[row[0]] = MeterState(
                    **counts, open_gaps=[] if gaps == "[]" else json.loads(gaps), updated_s=row[14]
                )
        return out

    def apply(self, readings: list[Reading]) -> Counter[str]:
        """Classify readings (in order) against the stored states and save the new states."""
        events: Counter[str] = Counter()
        if not readings:
            return events
        now = time.time()
        with self._lock:
            return self._apply(readings, now, events)

    def _apply(self, readings: list[Reading], now: float, events: Counter[str]) -> Counter[str]:
        try:
            self._db.execute("BEGIN IMMEDIATE")  # serialises workers: each sees the last one's states
            states: dict[str, MeterState | None] = dict(self._load(sorted({r.meter for r in readings})))
            for r in readings:
                st, evs = classify(states.get(r.meter), r, self.max_flow_lpm, self.rule)
                st.updated_s = now
                states[r.meter] = st
                events.update(evs)
            self._db.executemany(_INSERT, [_row(s) for s in states.values() if s is not None])
            self._db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise StoreError(f"state DB: {err}") from err
        except BaseException:
            self._rollback()
            raise
        return events

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def get(self, meter: str) -> MeterState | None:
        """The state of one meter, or None if it never sent a stored reading."""
        with self._lock:
            return self._load([meter]).get(meter)

    def close(self) -> None:
        with self._lock:
            self._db.close()
