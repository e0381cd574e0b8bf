"""Per-meter state (newest reading, the open hour's roll-up, open gaps, counts) and what a reading means.

One worker holds a meter's state at a time (its partition, docs/ingest.md "Partitions"): in memory,
made durable by the partition's state log (ingest/statelog.py) before the batch is acknowledged.
The newest reading and the open hour are what the store needs to write flows and roll-ups without a
query (storage/readings/stream.py); the rest is what the operator sees at `GET /state/<meter>`.
What counts as a reset is the one consumption rule's segment break (core.consumption), so the
ingest's `reset` count and the usage API's `resets` agree. No reading is refused here: the register
is what the device said. Whether an older reading is a duplicate, a conflict or a late one is decided
against what is stored (ingest/pipeline.py); `advance` and `fill` only count.
"""

from __future__ import annotations

from core.consumption import Mark, Rule
from core.readings import Reading
from storage.readings.stream import OpenHour

MAX_OPEN_GAPS = 16  # ranges of missing seqs remembered per meter; older ones count as lost

# Event kinds (docs/ingest.md, "What a reading means"):
NEW = "new"  # newer than the meter's newest reading
DUPLICATE = "duplicate"  # already stored with the same total: a redelivery or a replay
CONFLICT = "conflict"  # already stored with another total: quarantined, the stored one kept
LATE = "late"  # older than the newest and not stored yet (a gap filled, replayed out of order)
GAP = "gap"  # seqs skipped: `missing` counts them
NEW_BOOT = "new_boot"  # boot counter changed
RESET = "reset"  # a segment break by core.consumption (register reset or set, board replaced)
SEQ_RESTART = "seq_restart"  # newer reading with a lower seq (board replaced / flash wiped)
TOTAL_DECREASE = "total_decrease"  # total fell within one boot: the device broke the protocol
IMPOSSIBLE_FLOW = "impossible_flow"  # more litres per minute than any meter passes
KINDS = (
    NEW, DUPLICATE, CONFLICT, LATE, GAP, NEW_BOOT, RESET, SEQ_RESTART, TOTAL_DECREASE, IMPOSSIBLE_FLOW,
)  # fmt: skip
ANOMALIES = frozenset({SEQ_RESTART, TOTAL_DECREASE, IMPOSSIBLE_FLOW})


# What a state holds, in the order of MeterState's arguments (`part` is not compared, as it is not stored).
FIELDS = (
    "boot", "seq", "ts_s", "total_ml", "hour", "readings", "duplicates", "conflicts", "late", "gaps",
    "missing", "resets", "boots", "anomalies", "open_gaps", "part",
)  # fmt: skip


class MeterState:
    """What the pipeline knows about one meter (its id is the key it is kept under).

    A plain class with its own `__init__` rather than a dataclass: one is made per meter and batch (the undo
    copy), and compiled (ingest/compiled.py) a dataclass keeps the generated `__init__` in Python, four
    times slower than a compiled one."""

    __slots__ = FIELDS

    def __init__(
        self,
        boot: int,
        seq: int,  # seq of the newest reading
        ts_s: int,  # device time of the newest reading
        total_ml: int,  # register total of the newest reading
        hour: OpenHour | None = None,  # the roll-up of the newest reading's hour, as far as stored
        readings: int = 0,  # new + late readings stored
        duplicates: int = 0,
        conflicts: int = 0,
        late: int = 0,
        gaps: int = 0,  # gap events
        missing: int = 0,  # seqs skipped and not (yet) filled by late readings
        resets: int = 0,
        boots: int = 0,
        anomalies: int = 0,  # seq_restart + total_decrease + impossible_flow
        open_gaps: list[list[int]] | None = None,  # [[lo, hi], ...] inclusive
        part: int = -1,
    ) -> None:
        self.boot = boot
        self.seq = seq
        self.ts_s = ts_s
        self.total_ml = total_ml
        self.hour = hour
        self.readings = readings
        self.duplicates = duplicates
        self.conflicts = conflicts
        self.late = late
        self.gaps = gaps
        self.missing = missing
        self.resets = resets
        self.boots = boots
        self.anomalies = anomalies
        self.open_gaps = open_gaps
        # The meter's partition (ingest.pipeline.partition_of), kept so that a batch does not hash the id
        # again for its state-log record; -1 until known. Not stored: the state log it is loaded from says it.
        self.part = part

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MeterState):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in FIELDS if f != "part")

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass's

    def __repr__(self) -> str:
        return "MeterState(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in FIELDS) + ")"

    def clone(self) -> MeterState:
        """A copy the batch's changes cannot reach: the gap list is copied, the open hour shared (it is
        replaced, never changed in place). Field by field: `copy.copy` of a slots dataclass took a quarter
        of the worker's time in the steady 1M-meter bench (it is called once per meter per batch)."""
        return MeterState(
            self.boot,
            self.seq,
            self.ts_s,
            self.total_ml,
            self.hour,
            self.readings,
            self.duplicates,
            self.conflicts,
            self.late,
            self.gaps,
            self.missing,
            self.resets,
            self.boots,
            self.anomalies,
            [list(g) for g in self.open_gaps] if self.open_gaps else self.open_gaps,
            self.part,
        )

    def as_dict(self, meter: str) -> dict:
        """The state for the ops endpoint."""
        out = {f: getattr(self, f) for f in FIELDS if f not in ("hour", "part")}
        out["open_gaps"] = self.open_gaps or []
        out["meter"] = meter
        out["open_hour_s"] = self.hour.hour_s if self.hour else None
        return out


def first(r: Reading) -> MeterState:
    """The state after a meter's first reading."""
    return MeterState(r.boot, r.seq, r.ts_s, r.total_ml, readings=1)


def advance(state: MeterState, r: Reading, rule: Rule, events: list[str]) -> int:
    """Move the state to r (newer than its newest reading); append r's events; return seqs skipped."""
    events.append(NEW)
    skipped = 0
    new_boot = r.boot != state.boot
    if new_boot:
        events.append(NEW_BOOT)
        state.boots += 1
    if r.seq <= state.seq:
        events.append(SEQ_RESTART)
        state.anomalies += 1
        state.open_gaps = None
        state.missing = 0
    elif r.seq > state.seq + 1:
        events.append(GAP)
        skipped = r.seq - state.seq - 1
        state.gaps += 1
        state.missing += skipped
        gaps = state.open_gaps or []
        gaps.append([state.seq + 1, r.seq - 1])
        state.open_gaps = gaps[-MAX_OPEN_GAPS:]
    # Only a drop or a new boot can break a segment: the common reading skips building Marks.
    dropped = r.total_ml < state.total_ml
    breaks = (dropped or new_boot) and rule.breaks(
        Mark(state.ts_s, state.total_ml, state.boot), Mark(r.ts_s, r.total_ml, r.boot)
    )
    if breaks:
        events.append(RESET)
        state.resets += 1
    if dropped and not new_boot:
        events.append(TOTAL_DECREASE)  # a pulse counter never runs back within a boot
        state.anomalies += 1
    elif not breaks and (r.total_ml - state.total_ml) * 60 > rule.max_flow_lpm * 1000 * (r.ts_s - state.ts_s):
        events.append(IMPOSSIBLE_FLOW)
        state.anomalies += 1
    state.boot, state.seq, state.ts_s, state.total_ml = r.boot, r.seq, r.ts_s, r.total_ml
    state.readings += 1
    return skipped


def fill(state: MeterState, r: Reading) -> bool:
    """Count a late reading (older than the newest, not stored before); True when it filled a known gap."""
    state.late += 1
    state.readings += 1
    for i, (lo, hi) in enumerate(state.open_gaps or []):
        if lo <= r.seq <= hi and r.boot == state.boot:
            parts = [[lo, r.seq - 1]] if r.seq > lo else []
            parts += [[r.seq + 1, hi]] if r.seq < hi else []
            assert state.open_gaps is not None
            state.open_gaps[i : i + 1] = parts
            state.missing -= 1
            return True
    return False
