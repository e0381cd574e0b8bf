"""Leak plans: random leaks in the documented ranges, plan files checked field by field."""

from __future__ import annotations

import json

import pytest

from hardware_sim.leak_plan import LeakPlanError, load_plan, parse_plan, random_leaks

IDS = [f"m-{i:03d}" for i in range(200)]
DAY_S = 86400


def test_random_leaks_hit_the_fraction_with_kinds_in_range():
    plan = random_leaks(IDS, 0.25, seed=3, duration_s=DAY_S)
    assert len(plan) == 50 and set(plan) <= set(IDS)
    assert plan == random_leaks(IDS, 0.25, seed=3, duration_s=DAY_S), "seeded: the same plan again"
    kinds = {lk.kind for leaks in plan.values() for lk in leaks}
    assert kinds == {"drip", "toilet", "burst"}
    for leaks in plan.values():
        (lk,) = leaks
        assert 0 <= lk.start_s < lk.end_s <= DAY_S
        if lk.kind == "burst":
            assert 20 * 60 <= lk.flow_lph <= 40 * 60 and lk.end_s - lk.start_s <= 2700
        else:
            assert 1.0 <= lk.flow_lph <= 60.0 and lk.end_s == DAY_S
    assert random_leaks(IDS, 0.0, seed=3, duration_s=DAY_S) == {}


GOOD = {"kind": "drip", "start_s": 0, "end_s": 600, "flow_lph": 2}


@pytest.mark.parametrize(
    "doc, message",
    [
        ([GOOD], "must be a JSON object"),
        ({"nope": [GOOD]}, "not in this fleet"),
        ({"m-001": GOOD}, "leaks must be a list"),
        ({"m-001": [1]}, "must be an object"),
        ({"m-001": [{**GOOD, "kind": "flood"}]}, "kind must be one of drip, toilet, burst"),
        ({"m-001": [{**GOOD, "colour": "red"}]}, "unknown field colour"),
        ({"m-001": [{**GOOD, "flow_lph": "2"}]}, "flow_lph must be a number of L/h"),
        ({"m-001": [{**GOOD, "flow_lph": 0.5}]}, "flow_lph must be 1..6000 L/h"),
        ({"m-001": [{**GOOD, "start_s": DAY_S}]}, "start_s must be 0..86400 s"),
        ({"m-001": [{**GOOD, "end_s": 0}]}, "end_s must be after start_s"),
        ({"m-001": [{k: v for k, v in GOOD.items() if k != "end_s"}]}, "end_s must be a number"),
    ],
)
def test_bad_plans_are_refused_with_the_reason(doc, message):
    with pytest.raises(LeakPlanError, match=message):
        parse_plan(doc, IDS, DAY_S)


def test_plan_files(tmp_path):
    good = tmp_path / "plan.json"
    good.write_text(json.dumps({"m-001": [GOOD]}))
    (leak,) = load_plan(good, IDS, DAY_S)["m-001"]
    assert (leak.kind, leak.start_s, leak.end_s, leak.flow_lph) == ("drip", 0, 600, 2)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LeakPlanError, match="is not JSON"):
        load_plan(bad, IDS, DAY_S)
    with pytest.raises(LeakPlanError, match="cannot read leak plan"):
        load_plan(tmp_path / "missing.json", IDS, DAY_S)
    with pytest.raises(LeakPlanError, match="leak fraction must be 0..1"):
        random_leaks(IDS, 1.5, seed=1, duration_s=DAY_S)
