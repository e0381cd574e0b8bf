"""Calendar buckets: local midnights and month starts across DST, wall-clock hours in odd offsets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.timegrid import Every, boundaries, common_step_s, floor_to, night_windows

NY = ZoneInfo("America/New_York")


def ts(*args, zone) -> int:
    return int(datetime(*args, tzinfo=zone).timestamp())


def test_days_across_spring_forward_are_23_hours():
    b = boundaries(ts(2025, 3, 8, 12, zone=NY), ts(2025, 3, 10, 1, zone=NY), Every.d1, NY, 100)
    assert b == [
        ts(2025, 3, 8, zone=NY),
        ts(2025, 3, 9, zone=NY),
        ts(2025, 3, 10, zone=NY),
        ts(2025, 3, 11, zone=NY),
    ]
    assert [y - x for x, y in zip(b, b[1:], strict=False)] == [86400, 82800, 86400]


def test_days_across_fall_back_are_25_hours():
    b = boundaries(ts(2025, 11, 2, zone=NY), ts(2025, 11, 3, zone=NY), Every.d1, NY, 100)
    assert b[1] - b[0] == 90000


def test_months_start_at_local_midnight_on_the_first():
    sh = ZoneInfo("Asia/Shanghai")
    b = boundaries(ts(2024, 12, 15, zone=sh), ts(2025, 3, 1, zone=sh), Every.mo1, sh, 100)
    assert [datetime.fromtimestamp(x, sh).strftime("%Y-%m-%d %H:%M") for x in b] == [
        "2024-12-01 00:00",
        "2025-01-01 00:00",
        "2025-02-01 00:00",
        "2025-03-01 00:00",
    ]


def test_hours_follow_the_local_wall_clock_in_a_quarter_hour_zone():
    ktm = ZoneInfo("Asia/Kathmandu")  # +05:45
    t = ts(2025, 1, 1, 10, 50, zone=ktm)
    assert datetime.fromtimestamp(floor_to(t, Every.h1, ktm), ktm).strftime("%H:%M") == "10:00"
    assert datetime.fromtimestamp(floor_to(t, Every.m15, ktm), ktm).strftime("%H:%M") == "10:45"


def test_common_step_is_an_hour_for_days_even_across_dst():
    b = boundaries(ts(2025, 3, 1, zone=NY), ts(2025, 4, 1, zone=NY), Every.d1, NY, 100)
    assert common_step_s(b) == 3600
    assert common_step_s(boundaries(0, 3600, Every.m1, ZoneInfo("UTC"), 100)) == 60


def test_too_many_buckets_is_refused():
    with pytest.raises(ValueError, match="intervals"):
        boundaries(0, 86400 * 100, Every.m1, ZoneInfo("UTC"), 1000)
    with pytest.raises(ValueError, match="after start"):
        boundaries(10, 10, Every.h1, ZoneInfo("UTC"), 10)


def test_night_windows_are_local():
    sh = ZoneInfo("Asia/Shanghai")
    b = boundaries(ts(2025, 3, 1, zone=sh), ts(2025, 3, 3, zone=sh), Every.d1, sh, 10)
    assert night_windows(b, sh, 2, 5) == [
        (ts(2025, 3, d, 2, zone=sh), ts(2025, 3, d, 5, zone=sh)) for d in (1, 2)
    ]
