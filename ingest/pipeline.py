"""One batch of messages → stored readings, dead letters and per-meter state, with no query per reading.

For each message, in arrival order: the meter must be registered and active (`unknown_meter`), the
payload valid (docs/protocol.md), the meter within its flood limit unless the message carries readings
it owes (the next seqs, in order: a backlog replay is not a flood), and new meters within the series
limit. Then each reading is judged against the meter's state:

- newer than the meter's newest reading: stored; its flow and the hour roll-ups come from the state
  (storage/readings/stream.py) — no query, whatever the fleet size;
- at the newest reading's ts, or at a ts this batch already holds: compared there (no query);
- older: the only readings that can clash with stored ones. They are looked up in one query per 100
  meters: the same total is a `duplicate` (harmless, not written again), another total a `conflict`
  (quarantined in the dead letters with both values; the stored one is kept — never overwritten),
  none a `late` reading (stored, its hours rebuilt from the store).

A meter with no state in a partition that is not authoritative (statelog.py) takes the query path once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from mypy_extensions import i64, mypyc_attr

from core.consumption import Rule
from core.readings import Reading, Rejection
from core.units import litres_text
from ingest.flood import FloodLimit
from ingest.intake import Intake
from ingest.message import Msg
from ingest.payload import PayloadError
from ingest.state import CONFLICT, DUPLICATE, LATE, NEW, MeterState, advance, fill, first
from ingest.statelog import StateLog, frame, init_deployment, state_record
from storage.readings.base import Store
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import hour_of
from storage.readings.stream import OpenHour, stream_lines

log = logging.getLogger("ingest")
_MAX_CONFLICTS_SHOWN = 5


@dataclass
class Outcome:
    """What one batch did."""

    written: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    missing: int = 0  # seqs skipped (gaps opened)
    filled: int = 0  # late readings that filled a known gap
    newest_ts_s: int = 0


@dataclass
class Prepared:
    """A batch judged, its state changed in memory, everything but its in-order lines written.

    `lines` (the batch's new readings and the hours they close) are for the store; `frames` the state
    log's records, taken now so that a later batch's changes cannot leak into them; `undo` puts every
    touched state back (Pipeline.rollback) if the write fails. Pipeline.process does all of it at once;
    the worker writes `lines` while it judges the next batch (docs/ingest.md, "Pipelined writes").
    """

    out: Outcome
    lines: list[str]
    frames: dict[int, bytes]
    undo: dict[str, MeterState | None]


def _no_barrier() -> None:
    return None


@mypyc_attr(allow_interpreted_subclasses=True)  # the registry's snapshot (ingest.registry) is one
class ActiveMeters:
    """Which meters may store readings: `__contains__`. The open variant admits every meter."""

    def __contains__(self, meter: object) -> bool:
        return True

    def members(self) -> Container[str]:
        """What `meter in …` asks once per message: a set where there is one (a look-up in C, not a call
        of `__contains__` per message); here the open variant itself."""
        return self

    def refresh(self) -> None:
        """Reload if the source changed (no-op here)."""


class Partitions:
    """The partitions one worker holds: their states and state logs."""

    def __init__(self, count: int, owned: list[int], state_dir: str | None, store: Store, fsync: bool = True):
        self.count = count
        self.owned = owned
        self.states: dict[str, MeterState] = {}
        self.logs: dict[int, StateLog] = {}
        self.authoritative: dict[int, bool] = {}
        known: list[bool] = []

        def empty() -> bool:  # asked once, and only for a partition new here
            if not known:
                known.append(store.is_empty())
            return known[0]

        if state_dir is not None:
            init_deployment(state_dir, count, empty)
        for p in owned:
            if state_dir is None:  # in memory only (tests, demos): as good as the store is empty
                self.authoritative[p] = empty()
                continue
            sl = StateLog(state_dir, p, fsync=fsync)
            self.states.update(sl.load(empty))
            self.logs[p] = sl
            self.authoritative[p] = sl.authoritative

    def of(self, meter: str) -> int:
        """The partition of a meter (the same in every process and release)."""
        return partition_of(meter, self.count)

    def frames(self, changed: dict[str, MeterState]) -> dict[int, bytes]:
        """The changed states (meter → its state, as the batch found or made it) as they are now, one
        state-log record per partition (not yet durable)."""
        if not self.logs or not changed:
            return {}
        by_part: dict[int, list[tuple]] = {}
        for m, st in changed.items():
            p = st.part
            if p < 0:
                p = st.part = self.of(m)
            rows = by_part.get(p)
            if rows is None:
                rows = by_part[p] = []
            rows.append(state_record(m, st))
        return {p: frame(rows) for p, rows in by_part.items()}

    def append(self, frames: dict[int, bytes]) -> None:
        """Make the records durable (before the batch is acknowledged)."""
        for p, record in frames.items():
            self.logs[p].append_frame(record)

    def compact_due(self) -> bool:
        """Whether a log is long enough to be folded into its snapshot."""
        return any(sl.compact_due() for sl in self.logs.values())

    def compact_if_due(self) -> None:
        """Fold long logs into snapshots (between batches)."""
        for p, sl in self.logs.items():
            if sl.compact_due():
                t0 = time.monotonic()
                sl.compact({m: s for m, s in self.states.items() if self.of(m) == p})
                log.info(
                    "state snapshot written", extra={"fields": {"partition": p, "s": time.monotonic() - t0}}
                )

    def close(self) -> None:
        """Close the logs."""
        for sl in self.logs.values():
            sl.close()


def partition_of(meter: str, count: int) -> int:
    """Stable partition of a meter id: FNV-1a (32 bit) of the id mod count — the hash NATS's subject
    mapping `partition()` uses, so a cluster's partitions and the workers' agree (devservices/nats.py)."""
    data = meter.encode()
    h: i64 = 0x811C9DC5  # a machine integer when compiled: (h ^ byte) * prime < 2^57, no overflow
    for i in range(len(data)):
        h = ((h ^ data[i]) * 0x01000193) & 0xFFFFFFFF
    return int(h % count)


class Pipeline:
    """Turns batches of messages into writes; holds the per-meter state of its partitions."""

    def __init__(
        self,
        store: Store,
        intake: Intake,
        parts: Partitions,
        meters: ActiveMeters,
        flood: FloodLimit,
        rule: Rule,
        max_meters: int,
    ):
        self.store = store
        self.intake = intake
        self.parts = parts
        self.meters = meters
        self.flood = flood
        self.rule = rule
        self.max_meters = max_meters
        self.stream = isinstance(store, InfluxStore)

    # -- per message ---------------------------------------------------------------------------
    def _owes(self, st: MeterState | None, rs: list[Reading]) -> bool:
        """Whether a message carries readings the meter owes: the next seqs in order, or a known gap's."""
        if st is None:
            return True
        r = rs[0]
        if r.ts_s > st.ts_s:
            return r.boot == st.boot and r.seq == st.seq + 1
        return bool(st.open_gaps) and all(
            any(lo <= x.seq <= hi for lo, hi in st.open_gaps or []) for x in rs if x.ts_s < st.ts_s
        )

    def process(self, msgs: list[Msg]) -> Outcome:
        """Validate, judge and store one batch; StoreError (nothing to acknowledge) on a store failure.

        On any failure every state the batch touched is put back as it was, so the retry sees the batch
        as new again (the state log only ever holds confirmed batches).
        """
        prep = self.prepare(msgs, defer=False)
        self.parts.append(prep.frames)
        return prep.out

    def prepare(
        self, msgs: list[Msg], barrier: Callable[[], None] = _no_barrier, defer: bool = True
    ) -> Prepared:
        """Judge one batch and change the states in memory; with `defer` its in-order lines are left to
        the caller to write (then `parts.append(frames)`, or `rollback` if the write fails).

        `barrier` is called before any other store access (a look-up, a late or plain write): the
        previous batch's lines must be stored first. StoreError: the batch's changes are undone.
        """
        undo: dict[str, MeterState | None] = {}
        try:
            return self._process(msgs, undo, barrier, defer)
        except BaseException:
            self._restore(undo)
            raise

    def write_lines(self, lines: list[str]) -> None:
        """Store a prepared batch's in-order lines (StoreError on failure)."""
        assert isinstance(self.store, InfluxStore)
        self.store.write_stream(lines)

    def rollback(self, prep: Prepared) -> None:
        """Put back every state the prepared batch touched (its lines were not stored)."""
        self._restore(prep.undo)

    def _restore(self, undo: dict[str, MeterState | None]) -> None:
        states = self.parts.states
        for meter, old in undo.items():
            if old is None:
                states.pop(meter, None)
            else:
                states[meter] = old

    def _process(
        self, msgs: list[Msg], undo: dict[str, MeterState | None], barrier: Callable[[], None], defer: bool
    ) -> Prepared:
        out = Outcome()
        states = self.parts.states
        tracks = self.intake.tracks_state
        plain: list[Reading] = []  # intakes without seq/boot (wM-Bus): the store's own path
        news: dict[str, list[Reading]] = {}  # in-order readings per meter
        pending: dict[str, dict[int, int]] = {}  # meter → ts → total this batch stores (made when needed)
        olds: list[tuple[Reading, Msg]] = []
        unknown: dict[str, list[tuple[Reading, Msg]]] = {}  # no state, partition not authoritative
        # meters whose state the batch changed → that state: carried so that the lines and the state log
        # need no second look-up in the fleet's table (a million keys: a cache miss each, perf showed)
        changed: dict[str, MeterState] = {}
        conflicts: dict[int, list[str]] = {}  # message index → conflict texts
        batch_msgs: list[Msg] = []
        evs: list[str] = []  # events of in-order readings, counted once at the end (Counter.update is slow)
        missing = 0
        rule = self.rule
        meters = self.meters.members()
        key_of, parse = self.intake.key, self.intake.parse
        for m in msgs:
            try:
                meter = key_of(m.topic, m.payload)
                if tracks and meter not in meters:  # before parsing: a stranger costs a set look-up
                    raise PayloadError("unknown_meter", f"meter {meter} is not registered and active")
                rs = parse(m.topic, m.payload, m.received_s, meter)
                if not tracks:
                    if rs and rs[0].meter not in meters:
                        raise PayloadError(
                            "unknown_meter", f"meter {rs[0].meter} is not registered and active"
                        )
                    plain.extend(rs)
                    continue
                st = states.get(meter)
                if not m.dup and not self._owes(st, rs) and not self.flood.allow(meter, m.received_s):
                    raise PayloadError(
                        "flood",
                        f"meter {meter} is over {self.flood.burst:.0f} messages + {self.flood.rate_per_s}/s "
                        "(and the message is not readings it owes)",
                    )
                if st is None and meter not in news and meter not in unknown:
                    if not self.parts.authoritative[self.parts.of(meter)]:
                        unknown[meter] = [(r, m) for r in rs]
                        continue
                    if len(states) >= self.max_meters:
                        raise PayloadError(
                            "series_limit", f"{len(states)} meters known: the limit is {self.max_meters}"
                        )
            except PayloadError as err:
                out.rejections.append(Rejection(m.topic, err.reason, err.detail, m.payload, m.received_s))
                continue
            if meter in unknown:
                unknown[meter] += [(r, m) for r in rs]
                continue
            k = len(batch_msgs)
            batch_msgs.append(m)
            if meter not in undo:  # the state before the batch: put back on failure, and `base` of its lines
                undo[meter] = None if st is None else st.clone()
            mine = news.get(meter)
            for r in rs:
                if st is None:
                    st = states[meter] = changed[meter] = first(r)
                    mine = news[meter] = [r]
                    evs.append(NEW)
                elif r.ts_s > st.ts_s:
                    missing += advance(st, r, rule, evs)
                    if mine is None:
                        mine = news[meter] = [r]
                        changed[meter] = st
                    else:
                        mine.append(r)
                    if pending and (seen := pending.get(meter)) is not None:
                        seen[r.ts_s] = r.total_ml
                else:
                    known: int | None
                    if r.ts_s == st.ts_s:
                        known = st.total_ml
                    else:  # a ts this batch may already hold: an index of the meter's batch, made once
                        known = _batch_index(pending, meter, mine).get(r.ts_s)
                    if known is None:
                        olds.append((r, m))
                        continue
                    changed[meter] = st
                    _judge_stored(st, r, known, out, conflicts.setdefault(k, []))
        out.missing += missing
        out.events.update(evs)
        # 1. In-order readings: no query. Their lines go first: late readings rebuild their hours from
        # what is stored, which must hold this batch's newer readings (and the previous batch's).
        lines, written = self._lines_new(news, undo, changed)
        if plain or olds or unknown or not self.stream:
            barrier()
            if not self.stream and news:
                self.store.write_readings([r for rs in news.values() for r in rs])
            elif lines:
                self.write_lines(lines)
            lines = []
        elif lines and not defer:
            self.write_lines(lines)
            lines = []
        # 2. Older readings: one look-up per 100 meters, then late ones through the query path.
        late = self._judge_old(olds, news, pending, out, conflicts, batch_msgs, changed)
        late += self._unknown(unknown, out, changed, undo)
        if late:
            rebuilt = self.store.write_late([r for r, _m in late])
            for meter, h in rebuilt.items():
                st = states.get(meter)
                if st is not None and isinstance(h, OpenHour) and h.hour_s == hour_of(st.ts_s):
                    st.hour = h
        if plain:
            self.store.write_readings(plain)
        for k, texts in conflicts.items():
            if not texts:
                continue
            m = batch_msgs[k]
            shown = "; ".join(texts[:_MAX_CONFLICTS_SHOWN]) + (
                f"; and {len(texts) - _MAX_CONFLICTS_SHOWN} more" if len(texts) > _MAX_CONFLICTS_SHOWN else ""
            )
            out.rejections.append(Rejection(m.topic, "conflict", shown, m.payload, m.received_s))
        out.written = written + len(late) + len(plain)
        newest = [rs[-1].ts_s for rs in news.values()]
        out.newest_ts_s = max(newest) if newest else 0
        return Prepared(out, lines, self.parts.frames(changed), undo)

    # -- writes --------------------------------------------------------------------------------
    def _lines_new(
        self,
        news: dict[str, list[Reading]],
        before: dict[str, MeterState | None],
        now: dict[str, MeterState],
    ) -> tuple[list[str], int]:
        """The in-order readings' lines and how many readings; each meter's open hour moves on in memory
        (undone with the batch if the write fails). `before`: each meter's state before the batch (the
        undo copies; None for a meter's first reading ever); `now`: its state in the fleet's table."""
        n = sum(len(rs) for rs in news.values())
        if not news or not self.stream:
            return [], n
        lines: list[str] = []
        for meter, rs in news.items():
            old = before[meter]
            st = now[meter]
            if old is None:
                st.hour = stream_lines(lines, meter, None, None, rs)
            else:
                st.hour = stream_lines(lines, meter, (old.ts_s, old.total_ml), old.hour, rs)
        return lines, n

    def _judge_old(
        self,
        olds: list[tuple[Reading, Msg]],
        news: dict[str, list[Reading]],
        pending: dict[str, dict[int, int]],
        out: Outcome,
        conflicts: dict[int, list[str]],
        batch_msgs: list[Msg],
        changed: dict[str, MeterState],
    ) -> list[tuple[Reading, Msg]]:
        if not olds:
            return []
        wanted: dict[str, list[int]] = {}
        for r, _m in olds:
            wanted.setdefault(r.meter, []).append(r.ts_s)
        stored = self.store.stored_totals(wanted)
        index = {id(m): k for k, m in enumerate(batch_msgs)}
        late: list[tuple[Reading, Msg]] = []
        for r, m in olds:
            st = changed[r.meter] = self.parts.states[r.meter]
            seen = _batch_index(pending, r.meter, news.get(r.meter))
            known = seen.get(r.ts_s, stored.get((r.meter, r.ts_s)))
            if known is None:
                seen[r.ts_s] = r.total_ml
                out.events[LATE] += 1
                out.filled += fill(st, r)
                late.append((r, m))
            else:
                _judge_stored(st, r, known, out, conflicts.setdefault(index[id(m)], []))
        return late

    def _unknown(
        self,
        unknown: dict[str, list[tuple[Reading, Msg]]],
        out: Outcome,
        changed: dict[str, MeterState],
        undo: dict[str, MeterState | None],
    ) -> list[tuple[Reading, Msg]]:
        """Meters without state in a non-authoritative partition: checked against the store, written
        through its query path, and their state taken from what the store then knows."""
        if not unknown:
            return []
        wanted = {meter: [r.ts_s for r, _m in items] for meter, items in unknown.items()}
        stored = self.store.stored_totals(wanted)
        keep: list[tuple[Reading, Msg]] = []
        for meter, items in unknown.items():
            seen: dict[int, int] = {}
            texts: dict[int, list[str]] = {}
            for r, m in items:
                known = seen.get(r.ts_s, stored.get((meter, r.ts_s)))
                if known is None:
                    seen[r.ts_s] = r.total_ml
                    keep.append((r, m))
                    out.events[NEW] += 1
                elif known == r.total_ml:
                    out.events[DUPLICATE] += 1
                else:
                    out.events[CONFLICT] += 1
                    texts.setdefault(id(m), []).append(_conflict_text(r, known))
            msgs = {id(m): m for _r, m in items}
            for key, lines in texts.items():
                m = msgs[key]
                out.rejections.append(
                    Rejection(m.topic, "conflict", "; ".join(lines[:5]), m.payload, m.received_s)
                )
        if keep:
            self.store.write_late([r for r, _m in keep])
            keep_meters = {r.meter for r, _m in keep}
            tails = (
                {m: self.store.tail_of(m) for m in keep_meters} if isinstance(self.store, InfluxStore) else {}
            )
            for meter in keep_meters:
                tail = tails.get(meter)
                if tail is not None:
                    undo.setdefault(meter, None)
                    newest, hour = tail
                    st = first(newest)
                    st.hour = hour
                    self.parts.states[meter] = changed[meter] = st
        out.written += len(keep)
        return []


def _batch_index(
    pending: dict[str, dict[int, int]], meter: str, batch: list[Reading] | None
) -> dict[int, int]:
    """ts → total of the meter's in-order readings in this batch, made the first time an older reading
    asks (then kept up to date by the loop), so a repeated reading is one look-up, not a scan."""
    seen = pending.get(meter)
    if seen is None:
        seen = pending[meter] = {x.ts_s: x.total_ml for x in batch or ()}
    return seen


def _judge_stored(st: MeterState, r: Reading, known_ml: int, out: Outcome, texts: list[str]) -> None:
    """A reading at a ts already stored (or being stored): a duplicate, or a conflict to quarantine."""
    if known_ml == r.total_ml:
        st.duplicates += 1
        out.events[DUPLICATE] += 1
    else:
        st.conflicts += 1
        out.events[CONFLICT] += 1
        texts.append(_conflict_text(r, known_ml))


def _conflict_text(r: Reading, stored_ml: int) -> str:
    return (
        f"{r.meter} at ts {r.ts_s}: stored {litres_text(stored_ml)} L, received {litres_text(r.total_ml)} L "
        "(the stored reading is kept)"
    )
