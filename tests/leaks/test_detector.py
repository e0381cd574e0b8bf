"""Each rule fires on its own leak and not on leak-free households; missing data never alarms."""

from __future__ import annotations

import json
import random

import pytest

from bench.leak_scenarios import T0_S, InjectedLeak
from leaks.config import LeakConfig
from leaks.detector import LeakDetector, detect_series
from leaks.model import BURST, BURST_HISTORY, CONTINUOUS, DRIPPING, NIGHT_FLOOR, RUNNING_TOILET
from tests.leaks.conftest import LEAK_FREE_SEEDS, D, H


def _events(series, config=None):
    det = LeakDetector(config)
    return [ev for ts, v in series for ev in det.update("m1", ts, v)]


@pytest.mark.parametrize("seed", LEAK_FREE_SEEDS)
def test_leak_free_household_three_weeks_raises_nothing(make_series, seed):
    assert detect_series("m1", make_series(seed, 21)) == []


def test_continuous_flow_fires_and_estimates_a_clean_drip(make_series):
    # The night floor rule is switched off (an unreachable margin) so the 24 h rule alone must find it.
    leak = InjectedLeak("drip", 3 * D + 5 * H + 1800, 12 * D, 8.0)
    alerts = detect_series("m1", make_series(7, 12, leak), LeakConfig(night_margin_lph=1000))
    assert len(alerts) == 1
    a = alerts[0]
    assert a.kind == CONTINUOUS
    assert 0 < a.detected_at - (T0_S + leak.start_s) <= 26 * H
    assert abs(a.rate_lph - 8.0) <= 0.2 * 8.0


def test_night_floor_fires_before_a_day_has_passed(make_series):
    leak = InjectedLeak("drip", 4 * D + 12 * H, 9 * D, 5.0)
    alerts = detect_series("m1", make_series(12, 9, leak))
    assert [a.kind for a in alerts] == [NIGHT_FLOOR]
    assert alerts[0].detected_at == T0_S + 5 * D + 5 * H  # end of the first night window
    assert abs(alerts[0].rate_lph - 5.0) <= 1.0


def test_dripping_catches_a_drip_below_the_continuous_threshold(make_series):
    leak = InjectedLeak("drip", 3 * D + 6 * H, 10 * D, 1.0)
    alerts = detect_series("m1", make_series(31, 10, leak))
    assert [a.kind for a in alerts] == [DRIPPING]
    assert alerts[0].detected_at - (T0_S + leak.start_s) <= 73 * H


def test_running_toilet_fires_on_regular_refills_during_the_night(make_series):
    leak = InjectedLeak("toilet", 3 * D + 23 * H, 8 * D, 2.0 * 2, refill_l=2.0, period_s=1800)
    alerts = detect_series("m1", make_series(7, 8, leak))
    assert [a.kind for a in alerts] == [RUNNING_TOILET]
    assert alerts[0].detected_at < T0_S + 4 * D + 5 * H
    assert abs(alerts[0].rate_lph - 4.0) <= 0.2 * 4.0


def test_burst_opens_within_20_minutes_and_resolves_when_it_stops(make_series):
    leak = InjectedLeak("burst", 3 * D + 14 * H + 25, 3 * D + 16 * H, 20.0 * 60)
    events = _events(make_series(58, 5, leak))
    assert [e.kind for e in events] == ["open", "resolve"]
    opened, resolved = events[0].alert, events[1].alert
    assert opened.kind == BURST
    assert opened.detected_at - (T0_S + leak.start_s) <= 20 * 60
    assert abs(opened.rate_lph - 1200) <= 0.2 * 1200
    assert resolved.status == "resolved" and resolved.alert_id == opened.alert_id
    assert 0 <= resolved.resolved_at - (T0_S + leak.end_s) <= 60


def test_a_draw_far_above_the_household_history_is_a_burst(make_series):
    leak = InjectedLeak("burst", 9 * D + 10 * H, 9 * D + 14 * H, 6.0 * 60)  # a hose left running
    alerts = detect_series("m1", make_series(7, 10, leak))
    assert [a.kind for a in alerts] == [BURST_HISTORY]
    assert alerts[0].detected_at - (T0_S + leak.start_s) <= 2 * H
    assert abs(alerts[0].rate_lph - 360) <= 0.2 * 360


def test_one_leak_is_one_alert_with_a_lifecycle(make_series):
    leak = InjectedLeak("drip", 3 * D + 2 * H, 7 * D + 15 * H, 12.0)
    events = _events(make_series(12, 10, leak))
    kinds = [e.kind for e in events]
    assert kinds[0] == "open" and kinds[-1] == "resolve" and kinds.count("open") == 1
    assert len(events) <= 8  # a few updates as more rules agree, not one per minute
    assert len({e.alert.alert_id for e in events}) == 1
    assert events[-1].alert.resolved_at >= T0_S + leak.end_s


@pytest.mark.parametrize("seed", LEAK_FREE_SEEDS)
def test_missing_data_never_alarms(make_series, seed):
    rng = random.Random(seed)
    series = make_series(seed, 21)
    kept, carry = [], 0.0
    for ts, v in series:
        # Lose a quarter of all hours, every night's quiet hours on some days, and single minutes;
        # the meter then reports everything it missed in the first minute after each gap.
        hour = (ts // 3600) % 24
        lost = (ts // 3600) % 4 == 1 or (hour < 6 and (ts // 86400) % 3 == 0) or rng.random() < 0.02
        if lost:
            carry += v
            continue
        kept.append((ts, v + carry))
        carry = 0.0
    assert detect_series("m1", kept) == []


def test_sparse_data_with_big_catch_ups_never_alarms():
    # One reading every 10 minutes carrying 10 minutes of a busy household's use.
    series = [(T0_S + 600 * k, 30.0) for k in range(14 * 144)]
    assert detect_series("m1", series) == []


def test_state_survives_a_restart(make_series):
    leak = InjectedLeak("toilet", 3 * D + 22 * H, 9 * D, 6.0, refill_l=1.5, period_s=900)
    series = make_series(31, 9, leak)
    uninterrupted = LeakDetector()
    whole = [ev for ts, v in series for ev in uninterrupted.update("m1", ts, v)]
    det = LeakDetector()
    half = len(series) // 2
    first = [ev for ts, v in series[:half] for ev in det.update("m1", ts, v)]
    restored = LeakDetector.from_dict(json.loads(json.dumps(det.to_dict())))
    second = [ev for ts, v in series[half:] for ev in restored.update("m1", ts, v)]
    assert [e.kind for e in whole][:1] == ["open"]
    assert first + second == whole
    assert restored.to_dict() == uninterrupted.to_dict()


@pytest.mark.parametrize(("ts", "litres", "message"), [
    (T0_S + 30, 1.0, "multiple of 60"),
    (T0_S + 60.5, 1.0, "whole Unix seconds"),
    ("now", 1.0, "whole Unix seconds"),
    (T0_S + 120, -1.0, "finite and >= 0"),
    (T0_S + 120, float("nan"), "finite and >= 0"),
    (T0_S + 120, float("inf"), "finite and >= 0"),
    (T0_S + 120, True, "must be a number"),
    (T0_S + 120, "3", "must be a number"),
    (T0_S, 1.0, "not after the last one"),
    (T0_S + 60, 1.0, "not after the last one"),
])
def test_bad_minute_is_refused_and_changes_nothing(ts, litres, message):
    det = LeakDetector()
    det.update("m1", T0_S, 1.0)
    det.update("m1", T0_S + 60, 2.0)
    before = det.to_dict()
    with pytest.raises(ValueError, match=message):
        det.update("m1", ts, litres)
    assert det.to_dict() == before
    assert det.update("m1", T0_S + 120, 0.5) == []


def test_bad_meter_and_state_are_refused():
    det = LeakDetector()
    with pytest.raises(ValueError, match="meter_id must be a non-empty string"):
        det.update("", T0_S, 1.0)
    with pytest.raises(ValueError, match="version"):
        LeakDetector.from_dict({"version": 99})
    state = det.to_dict()
    det.update("m1", T0_S, 1.0)
    state = det.to_dict()
    del state["meters"]["m1"]["hours"]
    with pytest.raises(ValueError, match="missing keys \\['hours'\\]"):
        LeakDetector.from_dict(state)


def test_detect_series_takes_a_dict_or_pairs_and_refuses_bad_items(make_series):
    leak = InjectedLeak("burst", 2 * D + 9 * H, 2 * D + 11 * H, 45.0 * 60)
    pairs = make_series(12, 3, leak)
    from_pairs = detect_series("m1", pairs)
    assert from_pairs == detect_series("m1", dict(pairs))
    assert [a.kind for a in from_pairs] == [BURST]
    with pytest.raises(ValueError, match="series item 1 must be a \\(ts_s, litres\\) pair"):
        detect_series("m1", [(T0_S, 1.0), (T0_S + 60,)])
    with pytest.raises(ValueError, match="not after the last one"):
        detect_series("m1", [(T0_S, 1.0), (T0_S, 2.0)])


def test_the_zone_moves_the_night_window(make_series):
    # The same household 8 h east: its local night is 16:00-21:00 UTC.
    leak = InjectedLeak("drip", 4 * D + 12 * H, 9 * D, 5.0)
    shifted = [(ts - 8 * H, v) for ts, v in make_series(12, 9, leak)]
    alerts = detect_series("m1", shifted, LeakConfig(tz="Asia/Shanghai"))
    assert [a.kind for a in alerts] == [NIGHT_FLOOR]
    assert alerts[0].detected_at == T0_S + 5 * D + 5 * H - 8 * H
