"""In-order writing of a meter's readings without a query: each reading's `flow_lpm` from its predecessor
and the hour roll-ups (`usage_1h`, docs/schema.md) from the open hour's span, both kept by the caller.

The ingest keeps, per meter, its newest stored reading and the span of that reading's hour (the open
hour) in memory and durably (ingest/statelog.py); a batch of readings newer than that newest reading
needs nothing else: flows come from consecutive readings, the open hour's span is `combine`d with the
batch's (core.consumption), and an hour's line is written once, when a reading of a later hour closes
it. An hour left open is read from the readings by the API (docs/schema.md).
"""

from __future__ import annotations

from core.consumption import Mark, Span, combine, extend, fold_marks, mark
from core.readings import Reading
from storage.readings.base import flow_lpm
from storage.readings.lineproto import hour_of, reading_line, rollup_line


class OpenHour:
    """A meter's hourly roll-up as far as written: what the next in-order batch extends. (A plain class: one
    is made per meter and batch, and a compiled dataclass keeps its generated `__init__` in Python.)"""

    __slots__ = ("hour_s", "span", "peak_lpm")

    def __init__(self, hour_s: int, span: Span, peak_lpm: float | None) -> None:
        self.hour_s = hour_s  # the hour (hour_s, hour_s + 3600]
        self.span = span
        self.peak_lpm = peak_lpm

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OpenHour):
            return NotImplemented
        return (self.hour_s, self.span, self.peak_lpm) == (other.hour_s, other.span, other.peak_lpm)

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass's

    def __repr__(self) -> str:
        return f"OpenHour(hour_s={self.hour_s!r}, span={self.span!r}, peak_lpm={self.peak_lpm!r})"

    def line(self, meter: str) -> str:
        """This hour as a `usage_1h` line."""
        return rollup_line(meter, self.hour_s, self.span, self.peak_lpm)


def hours_of(pairs: list[tuple[Mark, float | None]]) -> list[OpenHour]:
    """The roll-ups of readings in time order with their stored flows (one fold per hour)."""
    out: list[OpenHour] = []
    group: list[Mark] = []
    peak: float | None = None
    hour = 0
    for m, flow in pairs:
        h = hour_of(m.ts_s)
        if group and h != hour:
            out.append(OpenHour(hour, _fold(group), peak))
            group, peak = [], None
        hour = h
        group.append(m)
        if flow is not None:
            peak = flow if peak is None else max(peak, flow)
    if group:
        out.append(OpenHour(hour, _fold(group), peak))
    return out


def _fold(marks: list[Mark]) -> Span:
    if len(marks) == 1:  # the common batch of one reading per meter
        return Span.of(marks[0])
    span = fold_marks(marks)
    assert span is not None
    return span


def _extend_hours(
    prev: tuple[int, int] | None, hour: OpenHour | None, batch: list[Reading]
) -> list[OpenHour]:
    """Roll-ups of the hours an in-order batch touches.

    `prev` is the stored (ts, total) just before the batch (None: the meter's first reading);
    `hour` the roll-up of batch[0]'s hour as stored before the batch, or None when that hour holds
    nothing yet. The caller vouches that nothing is stored after prev.
    """
    pairs: list[tuple[Mark, float | None]] = []
    for r in batch:
        flow = None if prev is None else flow_lpm(prev[0], prev[1], r.ts_s, r.total_ml)
        pairs.append((mark(r), flow))
        prev = (r.ts_s, r.total_ml)
    out = hours_of(pairs)  # one fold per hour, not one combine per reading
    if hour is not None and out and out[0].hour_s == hour.hour_s:
        first = out[0]
        joined = combine(hour.span, first.span)
        assert joined is not None
        peaks = [p for p in (hour.peak_lpm, first.peak_lpm) if p is not None]
        out[0] = OpenHour(hour.hour_s, joined, max(peaks) if peaks else None)
    return out


def _closed_lines(meter: str, touched: list[OpenHour]) -> list[str]:
    """Roll-up lines of every touched hour but the last, which stays open (in memory) until a
    reading of a later hour closes it: one line per meter and hour, not one per reading."""
    return [h.line(meter) for h in touched[:-1]]


def stream_lines(
    out: list[str], meter: str, prev: tuple[int, int] | None, hour: OpenHour | None, batch: list[Reading]
) -> OpenHour:
    """Append an in-order batch's lines (readings with flows, the hours it closes) to `out`; the new open
    hour. (Appended, not returned: the ingest calls this once per meter and batch.)

    `prev` is (ts, total ml) of the meter's newest stored reading (None: its first reading ever); `hour`
    the open hour's roll-up as kept (None: unknown or empty). The caller vouches that every reading of
    the batch is newer than prev and that nothing is stored after prev.
    """
    if len(batch) == 1:  # the common message: one reading
        r = batch[0]
        flow = None if prev is None else flow_lpm(prev[0], prev[1], r.ts_s, r.total_ml)
        h = hour_of(r.ts_s)
        out.append(reading_line(r, flow))
        if hour is None:
            return OpenHour(h, Span.of(mark(r)), flow)
        if hour.hour_s == h:
            peak = hour.peak_lpm
            if flow is not None and (peak is None or flow > peak):
                peak = flow
            return OpenHour(h, extend(hour.span, mark(r)), peak)
        out.append(hour.line(meter))  # r closes the open hour
        return OpenHour(h, Span.of(mark(r)), flow)
    p = prev
    for r in batch:
        out.append(reading_line(r, None if p is None else flow_lpm(p[0], p[1], r.ts_s, r.total_ml)))
        p = (r.ts_s, r.total_ml)
    touched = _extend_hours(prev, hour, batch)
    if hour is not None and touched[0].hour_s != hour.hour_s:
        touched.insert(0, hour)  # the batch closes the open hour
    out += _closed_lines(meter, touched)
    return touched[-1]
