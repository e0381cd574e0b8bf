"""Consumption from a running total is exact under adversarial delivery (the heart of VEE).

Whatever the order, duplication, batching, gaps, resets, swaps or backfill, consumption over a
period equals the sum of per-segment register differences, is never negative, and is additive.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.readings.sqlite import SqliteStore
from tests.vee.truth import Truth, deliveries, histories
from vee.config import VeeConfig
from vee.model import Status
from vee.raw import fetch_readings
from vee.series import build_series

CFG = VeeConfig(tz="Asia/Shanghai")
NOW = 2_000_000_000
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(truth: Truth, readings) -> object:
    return build_series(truth.point, list(readings), CFG, NOW, windows=truth.windows)


def assert_exact(truth: Truth, series, data) -> None:
    times = truth.times()
    for a in times:
        for b in times:
            if a <= b:
                assert series.consumption(a, b) == truth.register_diff(a, b), (a, b)
    # Arbitrary instants: never negative, additive, within the bounds of the nearest readings.
    lo, hi = times[0] - 7200, times[-1] + 7200
    xs = sorted(data.draw(st.lists(st.integers(lo, hi), min_size=3, max_size=3)))
    a, b, c = xs
    ab, bc, ac = series.consumption(a, b), series.consumption(b, c), series.consumption(a, c)
    assert ab >= 0 and bc >= 0 and ab + bc == ac
    inner = [t for t in times if a <= t <= c]
    if inner:
        assert ac >= truth.register_diff(inner[0], inner[-1])
    outer_a = max([t for t in times if t <= a], default=times[0])
    outer_c = min([t for t in times if t >= c], default=times[-1])
    assert ac <= truth.register_diff(outer_a, outer_c)


@FAST
@given(st.data())
def test_shuffled_duplicated_batched_input_gives_register_difference(data):
    truth = data.draw(histories())
    batches = data.draw(deliveries(truth))
    series = build(truth, [r for batch in batches for r in batch])
    assert_exact(truth, series, data)
    # Same answer as the pristine, ordered, duplicate-free readings: nothing counted twice.
    clean = build(truth, truth.readings)
    assert [(p.ts_s, p.cum_ml) for p in series.points] == [(p.ts_s, p.cum_ml) for p in clean.points]
    assert all(p.cum_ml <= q.cum_ml for p, q in zip(series.points, series.points[1:], strict=False))


@FAST
@given(st.data())
def test_intervals_sum_to_total_and_gaps_are_estimated_exactly(data):
    truth = data.draw(histories())
    series = build(truth, truth.readings)
    times = truth.times()
    start, stop = times[0], times[-1]
    every = data.draw(st.sampled_from([60, 900, 3600, 86400]))
    if (stop - start) // every > 5000:
        every = 86400
    intervals = series.intervals(start, stop, every)
    assert sum(i.used_ml for i in intervals) == truth.register_diff(start, stop)
    assert all(i.used_ml >= 0 for i in intervals)
    for a, b in series.estimated_spans:
        assert b - a > CFG.gap_s
        assert series.consumption(a, b) == truth.register_diff(a, b)
        inside = [p for p in series.points if a < p.ts_s < b]
        assert inside and all(p.status == Status.ESTIMATED for p in inside)
    for i in intervals:
        assert i.estimated == series.uses_estimates(i.start_s, i.end_s)


@FAST
@given(st.data())
def test_backfill_changes_nothing_outside_the_gap(data):
    truth = data.draw(histories(allow_swap=False))
    readings = truth.readings
    # Keep each boot's first and last readings and every segment's edges; hold back a middle run.
    keep = set()
    for seg in truth.segments:
        keep.update({seg[0][0], seg[-1][0]})
    for i, r in enumerate(readings):
        if (
            i == 0
            or i + 1 == len(readings)
            or readings[i - 1].boot != r.boot
            or readings[i + 1].boot != r.boot
        ):
            keep.add(r.ts_s)
    lo = data.draw(st.integers(0, len(readings)))
    hi = data.draw(st.integers(lo, len(readings)))
    held = {r.ts_s for r in readings[lo:hi]} - keep
    early = build(truth, [r for r in readings if r.ts_s not in held])
    late = build(truth, readings)
    seen = [t for t in truth.times() if t not in held]
    for a in seen:
        for b in seen:
            if a <= b:
                assert early.consumption(a, b) == late.consumption(a, b) == truth.register_diff(a, b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_batches_through_the_raw_store_give_the_same_series(data):
    truth = data.draw(histories(max_steps=30))
    store = SqliteStore(":memory:")
    try:
        for batch in data.draw(deliveries(truth)):
            store.write_readings(batch)  # redelivery overwrites with identical data
        meters = {w.meter for w in truth.windows} if truth.windows else {truth.point}
        raw = [r for m in sorted(meters) for r in fetch_readings(store, m, 0, NOW)]
        assert sorted(raw, key=lambda r: (r.meter, r.ts_s)) == sorted(
            set(truth.readings), key=lambda r: (r.meter, r.ts_s)
        )
        series = build(truth, raw)
        assert_exact(truth, series, data)
    finally:
        store.close()
