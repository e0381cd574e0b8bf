"""Each rule finds its own leak, names its kind, dates it and counts what it lost; households' own long
draws (pools, irrigation, guests, slow baths) are not leaks; missing data never alarms."""

from __future__ import annotations

import json
import random

import pytest

from bench.households import HouseholdSpec, build
from bench.leak_scenarios import InjectedLeak
from leaks.config import LeakConfig
from leaks.detector import LeakDetector, detect_series
from leaks.model import (
    BURST,
    CONTINUOUS,
    DRIP,
    RULE_CONTINUOUS,
    RULE_DRIPPING,
    RULE_FAST,
    RULE_LONG_DRAW,
    RULE_NIGHT_FLOOR,
    RULE_SUSTAINED,
    RULE_TOILET,
    RUNNING_TOILET,
)
from tests.leaks.conftest import D, H

T0 = 1_772_409_600  # 2026-03-02 00:00 UTC: day 0 of every UTC household


def _events(pairs, config=None, meter="m1"):
    det = LeakDetector(config)
    return [ev for ts, v in pairs for ev in det.update(meter, ts, v)]


def _opened(pairs, config=None):
    return [e.alert for e in _events(pairs, config) if e.kind == "open"]


# ---- households' own water is not a leak ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "seed"),
    [
        ("project", 2),
        ("project", 10),
        ("base", 3),
        ("pool", 1),
        ("pool", 4),
        ("tank", 2),
        ("irrigation", 5),
        ("night_shift", 1),
        ("guests", 2),
        ("slow_bath", 3),
        ("holiday", 1),
    ],
)
def test_a_leak_free_household_of_each_kind_raises_no_alert_in_three_weeks(make_series, kind, seed):
    s = make_series(kind, seed, 21, l_per_pulse=1.0 if seed % 2 else 0.0, tz="Europe/Berlin")
    assert _opened(s.pairs, LeakConfig(tz="Europe/Berlin")) == []


def test_a_pool_top_up_is_unusual_use_the_first_time_and_a_habit_after(make_series):
    """Regression (issue 19): every pool top-up (12-15 L/min for 2-4 h) raised a burst alarm."""
    sc = make_series("pool", 4, 28)
    notes = build(HouseholdSpec("pool", 4, 28)).notes
    assert notes["pool"] == "hose" and 10 <= notes["hose_lpm"] <= 18
    det = LeakDetector()
    events, notices = [], []
    for ts, v in sc.pairs:
        events += det.update("m1", ts, v)
        notices += det.drain_notices()
    assert events == []
    opened = [n for n in notices if n.status == "open"]
    top_ups = [d for d in build(HouseholdSpec("pool", 4, 28)).draws.tag if d == "pool_topup"]
    assert 1 <= len(opened) < len(top_ups) / 2  # the first, and longer ones than before; not each
    first = opened[0]
    assert first.minutes >= 30 and first.rate_lph / 60 >= 10
    ended = [n for n in notices if n.status == "ended" and n.notice_id == first.notice_id]
    assert len(ended) == 1 and ended[0].stopped_at > first.started_at


def test_guests_showering_together_are_not_a_burst():
    """Regression (issue 19): seven guests showering together (> 40 L/min for 5 min) raised a burst."""
    pairs = [(T0 + 60 * k, 0.0) for k in range(600)]
    for k in range(300, 306):
        pairs[k] = (pairs[k][0], 47.0)
    assert _opened(pairs) == []


def test_a_schedule_above_the_burst_rate_is_held_back_only_on_its_own_time_and_rate():
    def day(d: int, start_min: int, lpm: float, minutes: int):
        return [
            (T0 + d * D + 60 * k, lpm if start_min <= k < start_min + minutes else 0.0) for k in range(1440)
        ]

    # A controller runs 24 L/min for 25 min at 05:00 every day: the first two days are bursts...
    pairs = [p for d in range(3) for p in day(d, 300, 24.0, 25)]
    opened = _opened(pairs)
    assert [(a.kind, a.rule) for a in opened] == [(BURST, RULE_SUSTAINED)] * 2
    # ...the third day is the schedule (no alert); at 14:00 the same flow is still a burst within 20 min.
    det = LeakDetector()
    for ts, v in pairs:
        det.update("m1", ts, v)
    later = [e for ts, v in day(3, 840, 24.0, 60) for e in det.update("m1", ts + 0, v)]
    assert [e.kind for e in later][:1] == ["open"]
    assert later[0].alert.detected_at - (T0 + 3 * D + 840 * 60) <= 18 * 60


# ---- each kind of leak ----------------------------------------------------------------------------


def test_night_floor_finds_a_drip_by_the_first_night_with_its_start_and_loss(make_series):
    leak = InjectedLeak("drip", 4 * D + 14 * H + 1234, 9 * D, 5.0)
    s = make_series("base", 3, 9, leak)
    [a] = detect_series("m1", s.pairs)
    start = s.t0_s + leak.start_s
    assert (a.kind, a.rule) == (DRIP, RULE_NIGHT_FLOOR)
    assert a.detected_at == s.t0_s + 5 * D + 5 * H  # end of the first night window
    assert abs(a.started_at - start) <= 5 * 60
    assert abs(a.rate_lph - 5.0) <= 0.05 * 5.0


def test_continuous_flow_finds_a_steady_leak_within_a_day_and_counts_its_loss(make_series):
    # The night rule is switched off (an unreachable margin) so the 24 h rule alone must find it.
    leak = InjectedLeak("continuous", 3 * D + 5 * H + 1800, 12 * D, 25.0)
    s = make_series("base", 3, 12, leak)
    alerts = _opened(s.pairs, LeakConfig(night_margin_lph=1000))
    [a] = alerts
    start = s.t0_s + leak.start_s
    assert (a.kind, a.rule) == (CONTINUOUS, RULE_CONTINUOUS)
    assert 0 < a.detected_at - start <= 26 * H
    assert abs(a.started_at - start) <= 10 * 60
    lost = leak.litres_between(leak.start_s, a.detected_at - s.t0_s)
    assert abs(a.volume_l - lost) <= 0.1 * lost


def test_dripping_catches_a_drip_below_the_continuous_threshold(make_series):
    leak = InjectedLeak("drip", 3 * D + 6 * H, 10 * D, 1.0)
    s = make_series("base", 3, 10, leak)
    alerts = _opened(s.pairs)
    assert [(a.kind, a.rule) for a in alerts] == [(DRIP, RULE_DRIPPING)]
    assert alerts[0].detected_at - (s.t0_s + leak.start_s) <= 73 * H


@pytest.mark.parametrize("l_per_pulse", [0.0, 1.0])
def test_running_toilet_is_named_by_its_refills_and_dated_by_tracing_them_back(make_series, l_per_pulse):
    leak = InjectedLeak(
        "toilet", 3 * D + 15 * H + 611, 8 * D, 2.5 * 60 / 20, refill_l=2.5, period_s=1200, fill_lpm=9.0
    )
    s = make_series("base", 3, 8, leak, l_per_pulse=l_per_pulse)
    [a] = detect_series("m1", s.pairs)
    assert (a.kind, a.rule) == (RUNNING_TOILET, RULE_TOILET)
    assert a.detected_at < s.t0_s + 4 * D + 5 * H  # the first night
    assert abs(a.started_at - (s.t0_s + leak.start_s)) <= H
    assert abs(a.rate_lph - 7.5) <= 0.15 * 7.5


def test_a_steady_drip_on_a_pulse_meter_is_a_drip_not_a_running_toilet(make_series):
    """Regression (issue 19): every drip and continuous leak was labelled running_toilet: on a 1 L pulse
    meter a steady flow arrives as single pulses at regular intervals, which the refill rule took for a
    cistern."""
    leak = InjectedLeak("drip", 3 * D + 10 * H, 9 * D, 6.0)
    s = make_series("base", 3, 9, leak, l_per_pulse=1.0)
    [a] = detect_series("m1", s.pairs)
    assert a.kind == DRIP and a.rule != RULE_TOILET
    assert abs(a.started_at - (s.t0_s + leak.start_s)) <= H


def test_a_burst_starting_mid_minute_is_found_with_two_minutes_to_spare(make_series):
    """Regression (issue 19): 20 L/min needed 19 whole minutes, so a mid-minute start and a 30 s poll
    missed 20 min."""
    leak = InjectedLeak("burst", 3 * D + 14 * H + 59, 3 * D + 16 * H, 20.0 * 60)
    s = make_series("base", 3, 5, leak, phase_s=59)
    events = _events(s.pairs)
    assert [e.kind for e in events if e.kind != "progress"] == ["open", "resolve"]
    opened, resolved = events[0].alert, events[-1].alert
    start = s.t0_s + leak.start_s
    assert (opened.kind, opened.rule) == (BURST, RULE_SUSTAINED)
    assert opened.detected_at - start <= 18 * 60
    assert abs(opened.started_at - start) <= 60
    assert abs(opened.rate_lph - 1200) <= 0.05 * 1200
    # Priced by what it lost, not 24 h of flow: ~2 h at 20 L/min, and when it stopped.
    assert resolved.status == "resolved" and resolved.alert_id == opened.alert_id
    assert abs(resolved.stopped_at - (s.t0_s + leak.end_s)) <= 120
    assert abs(resolved.volume_l - 2400) <= 0.05 * 2400
    assert resolved.litres_per_day == 0.0


def test_a_large_burst_is_found_by_the_fast_rule(make_series):
    leak = InjectedLeak("burst", 2 * D + 9 * H + 17, 2 * D + 11 * H, 90.0 * 60)
    s = make_series("base", 3, 3, leak)
    [a] = detect_series("m1", s.pairs)
    assert (a.kind, a.rule) == (BURST, RULE_FAST)
    assert a.detected_at - (s.t0_s + leak.start_s) <= 10 * 60


def test_a_long_draw_that_never_stops_is_a_leak_its_rate_naming_the_kind(make_series):
    # 12 L/min for 10 h: unusual use first (a notice), a burst once it outlasts long_draw_leak_h.
    leak = InjectedLeak("burst", 3 * D + 9 * H, 3 * D + 19 * H, 12.0 * 60)
    s = make_series("base", 3, 5, leak)
    det = LeakDetector()
    events, notices = [], []
    for ts, v in s.pairs:
        events += det.update("m1", ts, v)
        notices += det.drain_notices()
    opened = [e.alert for e in events if e.kind == "open"]
    assert [(a.kind, a.rule) for a in opened] == [(BURST, RULE_LONG_DRAW)]
    assert 6 * H <= opened[0].detected_at - (s.t0_s + leak.start_s) <= 6 * H + 300
    assert [n.status for n in notices if n.started_at <= opened[0].started_at + 120] == ["open", "escalated"]
    # 2 L/min (120 L/h) for days: a continuous leak, not a burst.
    leak = InjectedLeak("continuous", 3 * D + 9 * H, 6 * D, 120.0)
    s = make_series("base", 3, 6, leak)
    [a] = _opened(s.pairs)
    assert a.kind == CONTINUOUS and abs(a.rate_lph - 120) <= 6


# ---- lifecycle, figures, feedback --------------------------------------------------------------------


def test_one_leak_is_one_alert_and_its_loss_grows_in_data_time(make_series):
    leak = InjectedLeak("drip", 3 * D + 2 * H, 7 * D + 15 * H, 8.0)
    s = make_series("base", 3, 10, leak)
    events = _events(s.pairs)
    kinds = [e.kind for e in events]
    assert kinds[0] == "open" and kinds[-1] == "resolve" and kinds.count("open") == 1
    assert "update" not in kinds  # the rate held: nothing to deliver between open and resolve
    assert len({e.alert.alert_id for e in events}) == 1
    progress = [e.alert for e in events if e.kind == "progress"]
    assert progress and all(b.volume_l > a.volume_l for a, b in zip(progress, progress[1:], strict=False))
    done = events[-1].alert
    assert abs(done.stopped_at - (s.t0_s + leak.end_s)) <= 4 * H
    assert done.resolved_at >= done.stopped_at and done.updated_at == done.resolved_at
    assert abs(done.volume_l - 8.0 * (done.stopped_at - done.started_at) / H) <= 0.01 * done.volume_l


def test_a_rate_change_is_an_update():
    pairs = [(T0 + 60 * k, 0.05 if k < 3 * 1440 else 0.2) for k in range(6 * 1440)]
    events = [e for e in _events([(T0 - 3 * D + 60 * k, 0.0) for k in range(3 * 1440)] + pairs)]
    updates = [e.alert for e in events if e.kind == "update"]
    assert updates and abs(updates[0].rate_lph - 12.0) <= 0.5


def test_confirmed_use_is_learned_and_closes_the_alert():
    pairs = [(T0 + 60 * k, 25.0 if 600 <= k < 640 else 0.0) for k in range(1440)]
    det = LeakDetector()
    opened = [e for ts, v in pairs[:630] for e in det.update("m1", ts, v)]
    assert [e.kind for e in opened] == ["open"]
    done = det.confirm_use("m1", opened[0].alert.started_at)
    assert [e.kind for e in done] == ["resolve"] and done[0].alert.evidence["confirmed_by_resident"]
    assert [e for ts, v in pairs[630:] for e in det.update("m1", ts, v)] == []  # not re-opened
    # The next day the same draw at the same time is the resident's schedule.
    nxt = [(ts + D, v) for ts, v in pairs]
    assert [e for ts, v in nxt for e in det.update("m1", ts, v)] == []


# ---- missing data, state, input, zones ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "seed"), [("project", 2), ("guests", 2), ("irrigation", 5)])
def test_missing_data_never_alarms(make_series, kind, seed):
    rng = random.Random(seed)
    kept, carry = [], 0.0
    for ts, v in make_series(kind, seed, 21).pairs:
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


def test_lost_readings_do_not_hide_a_burst(make_series):
    # Every fifth reading lost: the next one carries two minutes, spread back over them.
    leak = InjectedLeak("burst", 3 * D + 14 * H + 20, 3 * D + 15 * H, 21.0 * 60)
    s = make_series("base", 3, 4, leak)
    kept, carry = [], 0.0
    for i, (ts, v) in enumerate(s.pairs):
        if i % 5 == 2:
            carry = v
            continue
        kept.append((ts, v + carry))
        carry = 0.0
    [a] = detect_series("m1", kept)
    assert a.kind == BURST and a.detected_at - (s.t0_s + leak.start_s) <= 18 * 60


def test_sparse_data_with_big_catch_ups_never_alarms():
    # One reading every 10 minutes carrying 10 minutes of a busy household's use.
    series = [(T0 + 600 * k, 30.0) for k in range(14 * 144)]
    assert detect_series("m1", series) == []


def test_state_survives_a_restart(make_series):
    leak = InjectedLeak("toilet", 3 * D + 22 * H, 9 * D, 6.0, refill_l=1.5, period_s=900, fill_lpm=8.0)
    pairs = make_series("pool", 4, 9, leak).pairs
    uninterrupted = LeakDetector()
    whole = [ev for ts, v in pairs for ev in uninterrupted.update("m1", ts, v)]
    det = LeakDetector()
    half = len(pairs) // 2
    first = [ev for ts, v in pairs[:half] for ev in det.update("m1", ts, v)]
    restored = LeakDetector.from_dict(json.loads(json.dumps(det.to_dict())))
    second = [ev for ts, v in pairs[half:] for ev in restored.update("m1", ts, v)]
    assert [e.kind for e in whole][:1] == ["open"]
    assert first + second == whole
    assert restored.to_dict() == uninterrupted.to_dict()


@pytest.mark.parametrize(
    ("ts", "litres", "message"),
    [
        (T0 + 30, 1.0, "multiple of 60"),
        (T0 + 60.5, 1.0, "whole Unix seconds"),
        ("now", 1.0, "whole Unix seconds"),
        (T0 + 120, -1.0, "finite and >= 0"),
        (T0 + 120, float("nan"), "finite and >= 0"),
        (T0 + 120, float("inf"), "finite and >= 0"),
        (T0 + 120, True, "must be a number"),
        (T0 + 120, "3", "must be a number"),
        (T0, 1.0, "not after the last one"),
        (T0 + 60, 1.0, "not after the last one"),
    ],
)
def test_bad_minute_is_refused_and_changes_nothing(ts, litres, message):
    det = LeakDetector()
    det.update("m1", T0, 1.0)
    det.update("m1", T0 + 60, 2.0)
    before = det.to_dict()
    with pytest.raises(ValueError, match=message):
        det.update("m1", ts, litres)
    assert det.to_dict() == before
    assert det.update("m1", T0 + 120, 0.5) == []


def test_bad_meter_and_state_are_refused():
    det = LeakDetector()
    with pytest.raises(ValueError, match="meter_id must be a non-empty string"):
        det.update("", T0, 1.0)
    with pytest.raises(ValueError, match="version"):
        LeakDetector.from_dict({"version": 1, "config": {}, "meters": {}})
    det.update("m1", T0, 1.0)
    state = det.to_dict()
    del state["meters"]["m1"]["hours"]
    with pytest.raises(ValueError, match="missing keys \\['hours'\\]"):
        LeakDetector.from_dict(state)


def test_detect_series_takes_a_dict_or_pairs_and_refuses_bad_items(make_series):
    leak = InjectedLeak("burst", 2 * D + 9 * H, 2 * D + 11 * H, 45.0 * 60)
    pairs = make_series("base", 3, 3, leak).pairs
    from_pairs = detect_series("m1", pairs)
    assert from_pairs == detect_series("m1", dict(pairs))
    assert [a.kind for a in from_pairs] == [BURST]
    with pytest.raises(ValueError, match="series item 1 must be a \\(ts_s, litres\\) pair"):
        detect_series("m1", [(T0, 1.0), (T0 + 60,)])
    with pytest.raises(ValueError, match="not after the last one"):
        detect_series("m1", [(T0, 1.0), (T0, 2.0)])


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "Asia/Kolkata", "America/New_York"])
def test_the_zone_moves_the_night_window(make_series, tz):
    """Regression (issue 19): a fixed offset taken at start-up put the night 8 h off; a half-hour zone
    never closed its night at all."""
    leak = InjectedLeak("drip", 4 * D + 12 * H, 9 * D, 5.0)
    s = make_series("base", 3, 9, leak, tz=tz)
    [a] = detect_series("m1", s.pairs, LeakConfig(tz=tz))
    assert a.rule == RULE_NIGHT_FLOOR
    assert a.detected_at == s.t0_s + 5 * D + 5 * H  # 05:00 local of day 5 (no DST change before it)
