"""THE rule that turns register totals into litres. Every path (usage API at every resolution, fleet
views, billing's day charge, the leak monitor's minute use, VEE) calls this module; docs/consumption.md
explains it with examples.

The rule, for the readings of one meter in time order (identity (meter, ts): one reading per ts):

1. Segments. A reading starts a new segment (a different register, or the same one set) when, compared
   with the *previous reading*:
   - its total is lower and the boot counter changed, or the drop exceeds `reverse_flow_max_ml`
     (a register reset, board swap or unannounced set); or
   - the boot counter changed and the rise exceeds what `max_flow_lpm` could pass in the elapsed time
     (an upward register set: protocol v1 starts a new boot on `set_total_l`).
   Only device readings carry a boot counter; a photo, manual or wM-Bus reading never "changes boot".
2. Within a segment, consumption is the growth of the segment's running maximum: a smaller drop (reverse
   flow, jitter, a photo read a little low) is held at the maximum, so water is never counted twice.
3. Across a break the step adds 0 and the new segment counts from its first total: what flowed between
   the two readings around the break is unknown, so the use lost is at most one reading interval.
4. Gaps: the use across a gap belongs to the reading that ends it (VEE may spread it by estimation).
5. Use in (a, b] = C(last reading ≤ b) − C(last reading ≤ a), C the cumulative consumption. With no
   reading ≤ a, counting starts at the first reading in (a, b]: use before a meter's first reading is
   unknown, not zero.

Composable: a `Span` summarises consecutive readings (first and last reading, the first segment's
maximum, the use after the first segment, the last segment's running maximum, segment and reading
counts), and `combine` is associative, so hourly roll-ups, partitions and streams give exactly the
reading-level answer (tests/core/test_consumption.py checks every partition of random histories).
Because rule 1 compares a reading only with the one before it, two spans join by looking at the
last reading of the left one and the first of the right one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from core.readings import Reading

REVERSE_FLOW_MAX_ML = 50_000  # a same-boot drop up to 50 L is held (reverse flow), larger breaks
MAX_FLOW_LPM = 1000.0  # no household meter passes more: the ingest's impossible-flow bound


class Mark(NamedTuple):
    """What the rule needs of one reading: its time, total and boot counter (None: it has none).

    (Mark and Span are named tuples: immutable like frozen dataclasses, and several times cheaper to
    build, which the usage API does for every hour of every query.)
    """

    ts_s: int
    total_ml: int
    boot: int | None


# Mark(...) and Span(...) go through a Python-level __new__; the ingest builds one of each per reading it
# stores, so its paths build them with tuple.__new__ (half the time, the same named tuple).
_new = tuple.__new__


def mark(r: Reading) -> Mark:
    """The rule's view of a reading: only device readings carry a boot counter."""
    return _new(Mark, (r.ts_s, r.total_ml, r.boot if r.has_boot else None))


@dataclass(frozen=True, slots=True)
class Rule:
    """The two thresholds of the segment rule."""

    reverse_flow_max_ml: int = REVERSE_FLOW_MAX_ML
    max_flow_lpm: float = MAX_FLOW_LPM

    def __post_init__(self) -> None:
        if self.reverse_flow_max_ml < 0:
            raise ValueError("reverse_flow_max_ml must be >= 0 ml")
        if not self.max_flow_lpm > 0:
            raise ValueError("max_flow_lpm must be > 0 L/min")

    def breaks(self, a: Mark, b: Mark) -> bool:
        """Whether reading b (right after a) starts a new segment."""
        new_boot = a.boot is not None and b.boot is not None and a.boot != b.boot
        if b.total_ml < a.total_ml:
            return new_boot or a.total_ml - b.total_ml > self.reverse_flow_max_ml
        # ml per minute against L/min: rise_ml * 60 s/min > max L/min * 1000 ml/L * elapsed s
        return new_boot and (b.total_ml - a.total_ml) * 60 > self.max_flow_lpm * 1000 * (b.ts_s - a.ts_s)


DEFAULT_RULE = Rule()


class Span(NamedTuple):
    """Summary of consecutive readings of one meter; `combine` joins two adjacent spans exactly."""

    first: Mark
    last: Mark
    head_max_ml: int  # the first segment's running maximum at its end
    tail_used_ml: int  # consumption in every segment after the first
    tail_max_ml: int  # the last segment's running maximum (= head_max_ml with one segment)
    segments: int
    n: int  # readings

    @classmethod
    def of(cls, m: Mark) -> Span:
        """The span of one reading."""
        return _new(cls, (m, m, m.total_ml, 0, m.total_ml, 1, 1))

    @property
    def used_ml(self) -> int:
        """Consumption from the first reading to the last; never negative."""
        return self.head_max_ml - self.first.total_ml + self.tail_used_ml

    @property
    def breaks(self) -> int:
        """Segment breaks inside the span (resets, swaps, register sets)."""
        return self.segments - 1


class OrderError(ValueError):
    """Spans or readings given out of time order (or two readings at one ts)."""


def combine(a: Span | None, b: Span | None, rule: Rule = DEFAULT_RULE) -> Span | None:
    """The span of a's readings followed by b's (a ends before b starts); None is the empty span."""
    if a is None:
        return b
    if b is None:
        return a
    if b.first.ts_s <= a.last.ts_s:
        raise OrderError(f"span at {b.first.ts_s} does not follow span ending at {a.last.ts_s}")
    if rule.breaks(a.last, b.first):
        return Span(
            a.first,
            b.last,
            a.head_max_ml,
            a.tail_used_ml + b.used_ml,
            b.tail_max_ml,
            a.segments + b.segments,
            a.n + b.n,
        )
    joined_max = max(a.tail_max_ml, b.head_max_ml)
    if a.segments == 1:
        head, tail_used = joined_max, b.tail_used_ml
    else:
        head, tail_used = a.head_max_ml, a.tail_used_ml + (joined_max - a.tail_max_ml) + b.tail_used_ml
    return Span(
        a.first,
        b.last,
        head,
        tail_used,
        b.tail_max_ml if b.segments > 1 else joined_max,
        a.segments + b.segments - 1,
        a.n + b.n,
    )


def extend(a: Span | None, m: Mark, rule: Rule = DEFAULT_RULE) -> Span:
    """`combine(a, Span.of(m))`: the span of a's readings followed by one more reading, without building
    the one-reading span when nothing can break (the ingest does this once per reading it stores)."""
    if a is None:
        return Span.of(m)
    last = a.last
    t = m.total_ml
    if m.ts_s <= last.ts_s:
        raise OrderError(f"reading at {m.ts_s} does not follow the one at {last.ts_s}")
    if t < last.total_ml or (m.boot != last.boot and m.boot is not None and last.boot is not None):
        joined = combine(a, Span.of(m), rule)  # a drop or a new boot: the rule decides
        assert joined is not None
        return joined
    # No drop within one register: rule 1 cannot break here, and the running maximum grows to t.
    top = a.tail_max_ml if a.tail_max_ml >= t else t
    if a.segments == 1:
        return _new(Span, (a.first, m, top, 0, top, 1, a.n + 1))
    used = a.tail_used_ml + top - a.tail_max_ml
    return _new(Span, (a.first, m, a.head_max_ml, used, top, a.segments, a.n + 1))


def fold_marks(marks: Iterable[Mark], rule: Rule = DEFAULT_RULE) -> Span | None:
    """The span of readings in time order (the fast path of `fold` for plain readings)."""
    it = iter(marks)
    first = next(it, None)
    if first is None:
        return None
    prev = first
    head_max = cur_max = seg_first = first.total_ml
    tail_used, segments, n = 0, 1, 1
    breaks = rule.breaks
    for m in it:
        if m.ts_s <= prev.ts_s:
            raise OrderError(f"reading at {m.ts_s} does not follow the one at {prev.ts_s}")
        if breaks(prev, m):
            if segments == 1:
                head_max = cur_max
            else:
                tail_used += cur_max - seg_first
            segments += 1
            seg_first = cur_max = m.total_ml
        elif m.total_ml > cur_max:
            cur_max = m.total_ml
        prev = m
        n += 1
    if segments == 1:
        head_max = cur_max
    else:
        tail_used += cur_max - seg_first
    return Span(first, prev, head_max, tail_used, cur_max, segments, n)


def fold(items: Iterable[Mark | Span], rule: Rule = DEFAULT_RULE) -> Span | None:
    """One span of readings and spans in time order (any mix)."""
    acc: Span | None = None
    for item in items:
        acc = combine(acc, item if isinstance(item, Span) else Span.of(item), rule)
    return acc


def used_ml(span: Span | None) -> int:
    """Consumption of a span (0 for the empty one)."""
    return 0 if span is None else span.used_ml


def usage(
    before: Mark | Span | None, inside: Iterable[Mark | Span], rule: Rule = DEFAULT_RULE
) -> tuple[int, int]:
    """(use in ml, segment breaks) in (a, b], from the last reading ≤ a (or None) and what is in (a, b].

    With `before` None, counting starts at the first reading inside: use before it is unknown.
    """
    base = before if isinstance(before, Span) or before is None else Span.of(before)
    total = fold([*([base] if base is not None else []), *inside], rule)
    if total is None:
        return 0, 0
    base_used = used_ml(base)
    base_segments = base.segments if base is not None else 1
    return total.used_ml - base_used, total.segments - base_segments


def cumulative(marks: Sequence[Mark], rule: Rule = DEFAULT_RULE) -> list[int]:
    """C (ml) at each reading, from 0 at the first: the reading-level answer every path must equal."""
    out: list[int] = []
    if not marks:
        return out
    prev = marks[0]
    cur_max = prev.total_ml
    c = 0
    out.append(0)
    for m in marks[1:]:
        if m.ts_s <= prev.ts_s:
            raise OrderError(f"reading at {m.ts_s} does not follow the one at {prev.ts_s}")
        if rule.breaks(prev, m):
            cur_max = m.total_ml
        elif m.total_ml > cur_max:
            c += m.total_ml - cur_max
            cur_max = m.total_ml
        out.append(c)
        prev = m
    return out


def segment_starts(marks: Sequence[Mark], rule: Rule = DEFAULT_RULE) -> list[bool]:
    """Per reading: whether it starts a new segment (the first reading does)."""
    return [i == 0 or rule.breaks(marks[i - 1], m) for i, m in enumerate(marks)]
