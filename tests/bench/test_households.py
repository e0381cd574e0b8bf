"""The evaluation's households: exact minute volumes, local time in their zone, each kind's habit."""

from __future__ import annotations

import numpy as np
import pytest

from bench.households import KINDS, Clock, Draws, HouseholdSpec, build, render_minutes, through_header_tank


def test_minutes_hold_every_draw_exactly_whatever_the_phase():
    d = Draws()
    d.add(90.0, 95.0, 12.0, "a")  # 19 L from 01:30 to 03:05
    d.add(160.0, 3600.0, 1.0, "b")  # overlaps: 60 L
    for phase in (0.0, 17.0, 59.0):
        m = render_minutes(d, 70, phase)
        assert m.sum() == pytest.approx(19.0 + 60.0)
        assert (m >= 0).all()
    m = render_minutes(d, 70)
    assert m[1] == pytest.approx(6.0) and m[2] == pytest.approx(12.0 + 20 / 60)


def test_schedules_follow_local_time_across_dst():
    c = Clock("Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00; 05:00 local is 03:00 UTC after, 04:00 UTC before.
    assert c.at(27, 5.0) - c.at(26, 5.0) == 23 * 3600  # day 27 is 2026-03-29
    assert c.weekday(0) == 0


@pytest.mark.parametrize(
    ("kind", "tag", "lo_lpm", "hi_lpm"),
    [
        ("pool", "pool_topup", 9.0, 19.0),
        ("irrigation", "irrigation", 2.0, 19.0),
        ("slow_bath", "slow_bath", 3.0, 8.0),
        ("tank", "tank_topup", 8.0, 18.0),
    ],
)
def test_each_kind_draws_its_habit(kind, tag, lo_lpm, hi_lpm):
    for seed in range(12):
        r = build(HouseholdSpec(kind, seed, 21))
        flows = [f for f, t in zip(r.draws.flow_lpm, r.draws.tag, strict=True) if t == tag]
        if flows:
            assert lo_lpm <= min(flows) and max(flows) <= hi_lpm
            return
    raise AssertionError(f"no {kind} household drew {tag}")


def test_holidays_draw_nothing_and_guests_draw_more():
    r = build(HouseholdSpec("holiday", 1, 21))
    m = render_minutes(r.draws, 21 * 1440)
    days = m.reshape(21, 1440).sum(axis=1)
    # Away days draw nothing (the first may hold the night before's last visits, after midnight).
    assert r.notes["away_days"] - 1 <= (days == 0).sum() <= r.notes["away_days"]
    g = build(HouseholdSpec("guests", 2, 21))
    base = render_minutes(g.draws, 21 * 1440).reshape(21, 1440).sum(axis=1)
    assert g.notes["max_guests"] >= 2 and base.max() > 1.5 * np.median(base)
    assert len(KINDS) == 9


def test_a_header_tank_spreads_draws_at_the_float_valve_rate():
    demand = np.zeros(60)
    demand[5] = 40.0
    seen = through_header_tank(demand, capacity_l=200, refill_lpm=4.0, band_l=5.0)
    assert seen.sum() == pytest.approx(40.0) and seen.max() <= 4.0
