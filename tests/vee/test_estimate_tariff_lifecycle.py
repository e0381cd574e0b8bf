"""Estimation by the household's profile, tier determinants, and the meter lifecycle."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.readings import Reading
from core.tariffs import tariff_for
from core.timezones import month_bounds_s, zone
from vee import estimate, lifecycle, tariff
from vee.config import VeeConfig
from vee.lifecycle import EventKind, LifecycleEvent
from vee.model import Status
from vee.series import build_series

T0 = 1_767_196_800  # 2026-01-01 00:00 Asia/Shanghai (a Thursday)
H, D = 3600, 86400
NOW = T0 + 800 * D


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**12), st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_allocation_is_exact(total, weights):
    parts = estimate.allocate(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)


def test_gap_follows_the_household_profile():
    # Two weeks of hourly reads: 60 L in the 07:00 and 19:00 hours (local), nothing else.
    rs, total = [], 0
    for h in range(14 * 24 + 1):
        rs.append(Reading("m", T0 + h * H, total, h, 0))
        if h % 24 in (7, 19):
            total += 60_000
    # Then a 2-day hole; the register moved 240 L over it.
    end = T0 + 14 * D
    rs.append(Reading("m", end + 2 * D, total + 240_000, len(rs), 0))
    s = build_series("m", rs, VeeConfig(), NOW)
    est = [i for i in s.intervals(end, end + 2 * D, H)]
    assert sum(i.used_ml for i in est) == 240_000 and all(i.estimated for i in est)
    busy = {(i.start_s - T0) // H % 24 for i in est if i.used_ml > 0}
    assert busy == {7, 19}
    # Without history: plain interpolation, evenly over the hours.
    short = build_series(
        "m", [Reading("m", T0, 0, 0, 0), Reading("m", T0 + 10 * H, 100_000, 1, 0)], VeeConfig(), NOW
    )
    assert [i.used_ml for i in short.intervals(T0, T0 + 10 * H, H)] == [10_000] * 10


def test_tier_determinants_beijing_annual_and_guangzhou_monthly():
    # 300 m³ spread evenly over 2026 (daily reads): Beijing tiers 180 / 80 / 40.
    per_day = 300_000_000 // 365
    rs = [Reading("m", T0 + d * D, d * per_day, d, 0) for d in range(366)]
    rs[-1] = Reading("m", T0 + 365 * D, 300_000_000, 365, 0)
    s = build_series("m", rs, VeeConfig(gap_s=2 * D, estimate_step_s=H), NOW)
    start, stop = T0, T0 + 365 * D
    d = tariff.determinants(s, start, stop, tariff_for("beijing"))
    assert d.tier_ml == [180_000_000, 80_000_000, 40_000_000] and d.volume_ml == 300_000_000
    assert d.charge_fen == 180 * 500 + 80 * 700 + 40 * 900
    # A December bill continues the year's tier position; its tiers still sum to its volume.
    sh = zone("Asia/Shanghai")
    dec = tariff.determinants(s, *month_bounds_s(2026, 12, sh), tariff_for("beijing"))
    assert dec.tier_ml[0] == 0 and sum(dec.tier_ml) == dec.volume_ml > 0
    jan = tariff.determinants(s, *month_bounds_s(2026, 1, sh), tariff_for("guangzhou"))
    assert jan.tier_ml == [21_000_000, 31 * per_day - 21_000_000, 0]


def test_billing_month_follows_the_utilitys_time_zone():
    # 1 m³ drawn at 2026-01-31 20:00 UTC, which is already February 1st 04:00 in Shanghai.
    # A billing month starts at local midnight in the utility's zone (the tariff record's).
    t = 1_769_889_600
    rs = [
        Reading("m", t - H, 0, 0, 0),
        Reading("m", t, 0, 1, 0),
        Reading("m", t + 600, 1_000_000, 2, 0),
        Reading("m", t + H, 1_000_000, 3, 0),
    ]
    s = build_series("m", rs, VeeConfig(), NOW)
    volumes = []
    for name in ("Asia/Shanghai", "UTC", "America/New_York"):
        utility = replace(tariff_for("guangzhou"), zone_name=name)
        d = tariff.determinants(s, *month_bounds_s(2026, 1, zone(name)), utility)
        volumes.append((d.volume_ml, d.tier_ml[0]))
    assert volumes == [(0, 0), (1_000_000, 1_000_000), (1_000_000, 1_000_000)]


def test_swap_keeps_consumption_continuous():
    old = [Reading("old", T0 + h * H, 5_000_000 + h * 10_000, h, 0) for h in range(5)]
    new = [Reading("new", T0 + h * H, 100 + (h - 5) * 20_000 + 15_000, h, 0) for h in range(6, 10)]
    stray = Reading("old", T0 + 7 * H, 9_999_999, 9, 0)  # the old meter's id reused after removal
    events = [LifecycleEvent("p", EventKind.SWAP, T0 + 5 * H - 600, "old", 5_045_000, "new", 100)]
    wins = lifecycle.windows("p", events)
    s = build_series("p", [*old, *new, stray], VeeConfig(), NOW, windows=wins)
    # old: 4 h × 10 L + 5 L to the final read; new: 100 ml → last read
    assert s.consumption(T0, T0 + 9 * H) == 45_000 + (new[-1].total_ml - 100)
    assert all(i.used_ml >= 0 for i in s.intervals(T0, T0 + 9 * H, 600))
    assert [f.rule.value for f in s.findings if f.ts_s == T0 + 7 * H] == ["outside_installation"]
    assert {p.status for p in s.points if p.ts_s == T0 + 5 * H - 600} == {Status.LIFECYCLE}


def test_lifecycle_errors_name_the_problem():
    with pytest.raises(ValueError, match="new_meter"):
        lifecycle.windows("p", [LifecycleEvent("p", EventKind.SWAP, 1, "a", 1)])
    with pytest.raises(ValueError, match="still installed"):
        lifecycle.windows(
            "p",
            [
                LifecycleEvent("p", EventKind.INSTALL, 1, "a", 0),
                LifecycleEvent("p", EventKind.INSTALL, 2, "b", 0),
            ],
        )
    with pytest.raises(ValueError, match="names b"):
        lifecycle.windows(
            "p",
            [
                LifecycleEvent("p", EventKind.INSTALL, 1, "a", 0),
                LifecycleEvent("p", EventKind.REMOVE, 2, "b", 0),
            ],
        )
    with pytest.raises(ValueError, match="without a move-in"):
        lifecycle.occupancies([LifecycleEvent("p", EventKind.MOVE_OUT, 1, account="acc")])


def test_move_in_move_out_proration():
    start, stop = month_bounds_s(2026, 4, zone("Asia/Shanghai"))  # 30 days
    events = [
        LifecycleEvent("p", EventKind.MOVE_IN, start + 10 * D, account="a1"),
        LifecycleEvent("p", EventKind.MOVE_OUT, start + 25 * D, account="a1"),
        LifecycleEvent("p", EventKind.MOVE_IN, start + 25 * D, account="a2"),
    ]
    occ = lifecycle.occupancies(events)
    shares = [lifecycle.proration(o, start, stop) for o in occ]
    assert shares == [Fraction(15, 30), Fraction(5, 30)]
    assert [lifecycle.prorate_fen(1000, f) for f in shares] == [500, 167]
    rs = [Reading("m", start + d * D, d * 100_000, d, 0) for d in range(31)]
    s = build_series("m", rs, VeeConfig(gap_s=2 * D, estimate_step_s=H), NOW)
    lo, hi = lifecycle.overlap(occ[0], start, stop)
    assert s.consumption(lo, hi) == 1_500_000  # a1's 15 days at 100 L
    assert sum(s.consumption(*lifecycle.overlap(o, start, stop)) for o in occ) == s.consumption(
        start + 10 * D, stop
    )
