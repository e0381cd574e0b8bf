"""Units, meter ids, money, time zones and reading sources: one rule each, refusals by name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ids import METER_ID_PATTERN, BadMeterId, check_meter_id, is_meter_id
from core.money import AmountError, fen, parse_amount, yuan
from core.readings import Reading, Source, parse_source
from core.timezones import DEFAULT_TZ, UnknownZone, day_bounds_s, month_bounds_s, zone
from core.units import BadVolume, litres, litres_text, ml_from_litres, ml_from_m3, to_litres


@given(st.integers(-(10**15), 10**15))
def test_litres_text_round_trips_exactly(ml):
    assert ml_from_litres(litres_text(ml)) == ml
    assert litres(ml) == Decimal(litres_text(ml))
    assert litres_text(ml) == format(litres(ml), "f")  # the form too: "0.005", "-1.000", never ".005"


def test_litres_text_forms():
    cases = {
        0: "0.000",
        5: "0.005",
        999: "0.999",
        1000: "1.000",
        1005: "1.005",
        -5: "-0.005",
        -1000: "-1.000",
    }
    assert {ml: litres_text(ml) for ml in cases} == cases


def test_volume_conversions():
    assert ml_from_litres(1.5) == 1500 and ml_from_litres("0.001") == 1
    assert ml_from_m3(123.456) == 123_456_000 and ml_from_m3(0.0000005) == 1  # half up
    assert ml_from_litres("1.0004", exact=False) == 1000
    assert to_litres(400.0) == Decimal("400.000") and to_litres("0.0005") == Decimal("0.001")
    for bad in ("1.0001", float("nan"), float("inf"), "x", True, None):
        with pytest.raises(BadVolume):
            ml_from_litres(bad)
    with pytest.raises(BadVolume):
        to_litres(-1)


def test_meter_id_rule():
    assert is_meter_id("a-B_9") and is_meter_id("x" * 32)
    for bad in ("", "x" * 33, "a b", "é", "a/b", None, 5):
        assert not is_meter_id(bad)
        with pytest.raises(BadMeterId, match=r"1-32 characters of \[A-Za-z0-9_-\]"):
            check_meter_id(bad)
    assert METER_ID_PATTERN == r"^[A-Za-z0-9_-]{1,32}$"


def test_money_is_decimal_to_the_fen():
    assert yuan("1.005") == Decimal("1.01") and fen(Decimal("12.345")) == 1235
    assert parse_amount("50.00") == Decimal("50.00")
    for bad in (1.5, "1.001", "NaN", "abc", "0", "2000000"):
        with pytest.raises(AmountError):
            parse_amount(bad)


def test_zones_are_iana_and_days_follow_dst():
    assert zone(DEFAULT_TZ).key == "Asia/Shanghai"
    for bad in ("", "UTC+8", "+08:00", "Mars/Base", "x" * 100):
        with pytest.raises(UnknownZone):
            zone(bad)
    from datetime import date

    ny = zone("America/New_York")
    a, b = day_bounds_s(date(2025, 3, 9), ny)
    assert b - a == 23 * 3600
    a, b = month_bounds_s(2025, 11, ny)
    assert b - a == 30 * 86400 + 3600


def test_sources_are_typed_and_old_photo_strings_still_read():
    assert parse_source("device") == (Source.DEVICE, None)
    assert parse_source("photo:0.87") == (Source.PHOTO, 0.87)
    assert parse_source("photo") == (Source.PHOTO, None)
    assert parse_source("photo:garbage") == (Source.PHOTO, None)
    assert parse_source("photo:7") == (Source.PHOTO, None)  # not a confidence
    with pytest.raises(ValueError):
        parse_source("telepathy")
    assert Reading("m", 1, 2, 3, 4).has_boot and not Reading("m", 1, 2, 0, 0, Source.WMBUS).has_boot
