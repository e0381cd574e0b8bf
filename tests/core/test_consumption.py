"""The one consumption rule: composable, never negative, never counts water twice, local across resets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.consumption import (
    DEFAULT_RULE,
    Mark,
    OrderError,
    Rule,
    Span,
    combine,
    cumulative,
    extend,
    fold,
    fold_marks,
    segment_starts,
    usage,
)
from core.readings import Reading, Source
from core.usage import MeterGrid, usage_from_grid
from tests import oracle
from tests.core.strategies import histories, partitions

MANY = settings(max_examples=250, deadline=None)


def naive(marks: list[Mark]) -> list[int]:
    """C at each reading by the rule written from its words, sharing no code (tests/oracle.py)."""
    rows = [
        Reading(
            "m", m.ts_s, m.total_ml, 0, m.boot or 0, Source.DEVICE if m.boot is not None else Source.MANUAL
        )
        for m in marks
    ]
    return oracle.cumulative(rows)


@MANY
@given(histories())
def test_fold_equals_the_rule_written_out(marks):
    assert cumulative(marks) == naive(marks)
    span = fold_marks(marks)
    if not marks:
        assert span is None
        return
    assert span.used_ml == naive(marks)[-1]
    assert span.n == len(marks)
    assert span.segments == sum(segment_starts(marks))


@MANY
@given(st.data())
def test_any_partition_into_spans_combines_to_the_reading_level_fold(data):
    marks = data.draw(histories())
    parts = data.draw(partitions(marks))
    spans = [fold_marks(p) for p in parts]
    assert fold(spans) == fold_marks(marks) == fold(marks)
    # and the same spans combined in any bracketing (associativity)
    if len(spans) >= 3:
        k = data.draw(st.integers(1, len(spans) - 2))
        left = combine(fold(spans[:k]), fold(spans[k:]))
        assert left == fold_marks(marks)


@MANY
@given(histories(min_size=1))
def test_extending_reading_by_reading_is_the_fold(marks):
    # extend's shortcut (no drop, same register) must agree with the rule at every step, also after
    # resets (several segments), boot changes and reverse-flow holds that `histories` draws
    span = None
    for k, m in enumerate(marks):
        span = extend(span, m)
        assert span == combine(fold_marks(marks[:k]), Span.of(m)) == fold_marks(marks[: k + 1])


def test_extend_refuses_a_reading_out_of_order():
    with pytest.raises(OrderError):
        extend(Span.of(Mark(60, 1, 1)), Mark(60, 2, 1))


@MANY
@given(st.data())
def test_cumulative_never_decreases_and_use_is_never_negative(data):
    marks = data.draw(histories(min_size=1))
    c = cumulative(marks)
    assert c[0] == 0 and all(a <= b for a, b in zip(c, c[1:], strict=False))
    i = data.draw(st.integers(0, len(marks) - 1))
    j = data.draw(st.integers(i, len(marks) - 1))
    used, _ = usage(marks[i], marks[i + 1 : j + 1])
    anchored = cumulative(marks[i:])  # C counted from the query's anchor, the last reading <= a
    assert used == anchored[j - i] >= 0
    # The anchor only forgets a reverse-flow hold in progress at a: never more than that hold.
    assert 0 <= used - (c[j] - c[i]) <= DEFAULT_RULE.reverse_flow_max_ml


@MANY
@given(histories(min_size=1))
def test_use_never_exceeds_the_rises_between_consecutive_readings(marks):
    """No water counted twice: every litre counted is a litre some step rose by."""
    rises = sum(max(0, b.total_ml - a.total_ml) for a, b in zip(marks, marks[1:], strict=False))
    assert fold_marks(marks).used_ml <= rises


@MANY
@given(st.data())
def test_grid_usage_equals_cumulative_differences_at_interval_ends(data):
    """core.usage folds step spans from the anchor: each interval's use is C(end) - C(start)."""
    marks = data.draw(histories(min_size=2))
    k = data.draw(st.integers(0, len(marks) - 1))
    base, rest = marks[k], marks[k + 1 :]
    parts = data.draw(partitions(rest))
    # intervals (b_i, b_i+1] holding each part; b0 = the anchor's time, steps of 1 s
    bounds = [base.ts_s] + [p[-1].ts_s for p in parts]
    if len(bounds) == 1:
        bounds.append(base.ts_s + 1)
    grid = MeterGrid([(p[0].ts_s - 1, fold_marks(p)) for p in parts], Span.of(base))
    res = usage_from_grid(grid, bounds, 1)
    c = [0] * k + cumulative(marks[k:])  # counted from the anchor, as every query counts
    end = k
    for i, p in enumerate(parts):
        new_end = end + len(p)
        assert res.intervals[i].used_ml == c[new_end] - c[end]
        end = new_end
    assert res.breaks == sum(segment_starts(marks)[k + 1 :])
    assert res.total_ml == c[-1] - c[k]


def test_a_reset_between_two_readings_keeps_the_use_on_both_sides():
    """25 L drawn around a reset: 10 L before it and 15 L after are counted, whatever the grouping."""
    marks = [Mark(0, 100_000, 1), Mark(60, 110_000, 1), Mark(120, 2_000, 2), Mark(180, 17_000, 2)]
    assert fold_marks(marks).used_ml == 25_000
    assert usage(marks[0], marks[1:]) == (25_000, 1)
    assert fold([fold_marks(marks[:2]), fold_marks(marks[2:])]).used_ml == 25_000


def test_reverse_flow_is_held_and_not_counted_again():
    marks = [Mark(0, 100_000, 1), Mark(60, 90_000, 1), Mark(120, 105_000, 1)]
    assert fold_marks(marks).used_ml == 5_000  # back to 100 L is not water; 100 → 105 is
    assert fold_marks(marks).segments == 1


def test_drop_beyond_reverse_flow_limit_or_with_a_new_boot_breaks():
    assert DEFAULT_RULE.breaks(Mark(0, 100_000, 1), Mark(60, 49_000, 1))
    assert not DEFAULT_RULE.breaks(Mark(0, 100_000, 1), Mark(60, 51_000, 1))
    assert DEFAULT_RULE.breaks(Mark(0, 100_000, 1), Mark(60, 99_000, 2))
    assert not DEFAULT_RULE.breaks(Mark(0, 100_000, None), Mark(60, 99_000, 2))  # a photo has no boot


def test_upward_register_set_on_a_new_boot_is_a_break_but_fast_use_on_one_boot_is_not():
    a = Mark(0, 1_000_000, 1)
    assert DEFAULT_RULE.breaks(a, Mark(60, 1_000_000 + 1_000_001, 2))  # > 1000 L in a minute
    assert not DEFAULT_RULE.breaks(a, Mark(60, 1_000_000 + 1_000_000, 2))
    assert not DEFAULT_RULE.breaks(
        a, Mark(60, 1_000_000 + 5_000_000, 1)
    )  # same boot: counted (ingest flags it)


def test_out_of_order_input_is_refused():
    with pytest.raises(OrderError):
        fold_marks([Mark(60, 1, 1), Mark(60, 2, 1)])
    with pytest.raises(OrderError):
        combine(Span.of(Mark(60, 1, 1)), Span.of(Mark(30, 2, 1)))
    with pytest.raises(ValueError):
        Rule(reverse_flow_max_ml=-1)
