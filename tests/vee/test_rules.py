"""Each validation rule fires on its case, marks the reading, and never drops it silently."""

from __future__ import annotations

import pytest

from core.readings import Reading, Source
from vee.config import VeeConfig
from vee.model import Edit, EditAction, ReasonCode, Rule, Status
from vee.series import build_series

T0 = 1_767_196_800  # 2026-01-01 00:00 Asia/Shanghai
H, D = 3600, 86400
NOW = T0 + 400 * D
CFG = VeeConfig()


def hourly(n: int, ml_per_h: int = 10_000, start_ml: int = 1_000_000, meter: str = "m") -> list[Reading]:
    return [Reading(meter, T0 + h * H, start_ml + h * ml_per_h, h, 0) for h in range(n)]


def rules_at(series, ts: int) -> set[str]:
    return {f.rule.value for f in series.findings if f.ts_s == ts}


def test_spike_is_excluded_and_consumption_unaffected():
    rs = hourly(10)
    rs[5] = Reading("m", T0 + 5 * H, rs[5].total_ml + 3_000_000, 5, 0)
    s = build_series("m", rs, CFG, NOW)
    assert rules_at(s, T0 + 5 * H) == {"spike"}
    # Left out of the series; the hole it leaves is estimated from its neighbours.
    assert [p.status for p in s.points if p.ts_s == T0 + 5 * H] == [Status.ESTIMATED]
    assert s.consumption(T0, T0 + 9 * H) == 90_000
    assert [f.excluded for f in s.findings if f.rule == Rule.SPIKE] == [True]


def test_dip_is_a_spike_not_a_reset():
    rs = hourly(10)
    rs[5] = Reading("m", T0 + 5 * H, 0, 5, 0)
    s = build_series("m", rs, CFG, NOW)
    assert "spike" in rules_at(s, T0 + 5 * H)
    assert s.consumption(T0, T0 + 9 * H) == 90_000


def test_reverse_flow_is_held_and_netted():
    rs = hourly(6)
    rs[3] = Reading("m", T0 + 3 * H, rs[2].total_ml - 5_000, 3, 0)  # 5 L backwards
    s = build_series("m", rs, CFG, NOW)
    assert "negative_step" in rules_at(s, T0 + 3 * H)
    assert s.consumption(T0, T0 + 5 * H) == 50_000  # register difference: backflow netted, not doubled
    assert all(s.consumption(T0 + h * H, T0 + (h + 1) * H) >= 0 for h in range(5))


def test_reset_with_new_boot_starts_a_segment():
    rs = hourly(4) + [Reading("m", T0 + 4 * H, 0, 4, 1), Reading("m", T0 + 5 * H, 7_000, 5, 1)]
    s = build_series("m", rs, CFG, NOW)
    assert "negative_step" in rules_at(s, T0 + 4 * H)
    assert s.consumption(T0, T0 + 5 * H) == 30_000 + 7_000
    assert len({p.segment for p in s.points}) == 2


def test_conflicting_duplicate_and_repeated_seq():
    rs = hourly(4)
    rs.append(Reading("m", T0 + 2 * H, rs[2].total_ml + 1, 2, 0))  # same ts, other value
    rs.append(Reading("m", T0 + 3 * H + 30, rs[3].total_ml, 3, 0))  # same seq, other ts
    s = build_series("m", rs, CFG, NOW)
    assert "duplicate" in rules_at(s, T0 + 2 * H)
    assert "duplicate" in rules_at(s, T0 + 3 * H + 30)
    assert s.consumption(T0, T0 + 4 * H) == 30_000


def test_clock_skew_minority_is_flagged():
    rs = hourly(8)
    rs[4] = Reading("m", T0 + 7 * H + 600, rs[4].total_ml, 4, 0)  # clock jumped ahead for one reading
    s = build_series("m", rs, CFG, NOW)
    assert rules_at(s, T0 + 7 * H + 600) == {"clock_skew"}
    assert s.consumption(T0, T0 + 7 * H) == 70_000


def test_future_reading_is_flagged_and_excluded():
    rs = hourly(3) + [Reading("m", NOW + 3600, 9_000_000, 3, 0)]
    s = build_series("m", rs, CFG, NOW)
    assert rules_at(s, NOW + 3600) == {"future"}
    assert s.consumption(T0, NOW + 7200) == 20_000


def test_low_confidence_photo_until_confirmed():
    rs = hourly(3) + [
        Reading("m", T0 + 3 * H, 1_030_000, 0, 0, Source.PHOTO, 0.41),
        Reading("m", T0 + 4 * H, 1_040_000, 0, 0, Source.PHOTO, 0.95),
    ]
    s = build_series("m", rs, CFG, NOW)
    assert rules_at(s, T0 + 3 * H) == {"photo_low_confidence"}
    assert rules_at(s, T0 + 4 * H) == set()
    assert [p.status for p in s.points if p.ts_s == T0 + 3 * H] == [Status.ESTIMATED]
    ok = Edit("m", T0 + 3 * H, EditAction.CONFIRM, ReasonCode.FIELD_CHECK, "op", NOW)
    s2 = build_series("m", rs, CFG, NOW, edits=[ok])
    assert [p.status for p in s2.points if p.ts_s == T0 + 3 * H] == [Status.ACTUAL]


def test_photo_reading_without_a_confidence_is_low_confidence():
    """A photo reading that carries no confidence at all cannot be judged: it waits for an operator."""
    rs = hourly(3) + [Reading("m", T0 + 3 * H, 1_030_000, 0, 0, Source.PHOTO)]
    assert rules_at(build_series("m", rs, CFG, NOW), T0 + 3 * H) == {"photo_low_confidence"}


def test_zero_consumption_for_n_days():
    rs = [Reading("m", T0 + d * D, 5_000_000, d, 0) for d in range(10)]
    s = build_series("m", rs, VeeConfig(zero_days=7, gap_s=2 * D, estimate_step_s=H), NOW)
    zero = [f for f in s.findings if f.rule == Rule.ZERO_CONSUMPTION]
    assert [f.ts_s for f in zero] == [T0 + 7 * D]


def test_high_and_low_against_own_history():
    daily = [200_000] * 10 + [2_000_000] + [200_000] * 3 + [10_000]
    total, rs = 0, [Reading("m", T0, 0, 0, 0)]
    for d, used in enumerate(daily, start=1):
        for h in range(1, 25):
            total += used // 24 if h < 24 else used - (used // 24) * 23
            rs.append(Reading("m", T0 + (d - 1) * D + h * H, total, len(rs), 0))
    s = build_series("m", rs, CFG, NOW)
    assert [f.ts_s for f in s.findings if f.rule == Rule.HIGH] == [T0 + 11 * D]
    assert [f.ts_s for f in s.findings if f.rule == Rule.LOW] == [T0 + 15 * D]


def test_prolonged_estimation():
    rs = [Reading("m", T0, 0, 0, 0), Reading("m", T0 + 5 * D, 1_000_000, 1, 0)]
    s = build_series("m", rs, CFG, NOW)
    assert rules_at(s, T0 + 5 * D) == {"prolonged_estimation"}
    assert s.uses_estimates(T0, T0 + D)


def test_edit_replaces_value_and_keeps_raw():
    rs = hourly(5)
    e = Edit("m", T0 + 4 * H, EditAction.REPLACE, ReasonCode.MISREAD, "op", NOW, value_ml=1_100_000)
    s = build_series("m", rs, CFG, NOW, edits=[e])
    p = [p for p in s.points if p.ts_s == T0 + 4 * H][0]
    assert (p.status, p.total_ml, p.raw_ml) == (Status.EDITED, 1_100_000, 1_040_000)
    assert s.consumption(T0, T0 + 4 * H) == 100_000
    assert rs[4].total_ml == 1_040_000  # raw reading untouched


def test_config_is_validated():
    with pytest.raises(ValueError, match="gap_s"):
        VeeConfig(gap_s=0)
    with pytest.raises(ValueError, match="time zone"):
        VeeConfig(tz="Mars/Olympus")
    with pytest.raises(ValueError, match="unknown rules"):
        VeeConfig(excluded_rules=frozenset({"nope"}))
