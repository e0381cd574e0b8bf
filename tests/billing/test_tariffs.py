"""Tiered tariffs as data: costs at tier edges, carried position, validation of the data."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.tariffs import load_tariffs, tariff_for

D = Decimal


@pytest.mark.parametrize(
    "utility,m3,expected",
    [
        ("beijing", "180", "900.00"),
        ("beijing", "200", "1040.00"),
        ("beijing", "300", "1820.00"),
        ("shanghai", "220", "759.00"),
        ("shanghai", "350", "1436.90"),
        ("guangzhou", "21", "53.55"),
        ("guangzhou", "30", "99.42"),
    ],
)
def test_cost_of_period_volume(utility, m3, expected):
    assert tariff_for(utility).cost_of_litres(D(m3) * 1000) == D(expected)


def test_tier_position_carries_within_period_and_resets_after():
    bj, gz = tariff_for("beijing"), tariff_for("guangzhou")
    # Beijing: 10 m³ starting at 175 m³ used this year: 5 m³ at 5.00 + 5 m³ at 7.00.
    assert bj.charge(D(175000), D(10000)) == D("60.00")
    assert bj.period_start(date(2024, 12, 31)) == date(2024, 1, 1)
    assert bj.period_start(date(2025, 1, 1)) == date(2025, 1, 1)
    assert gz.period_start(date(2024, 3, 17)) == date(2024, 3, 1)
    assert gz.price_at(D(26999)) == D("3.82") and gz.price_at(D(27000)) == D("7.65")


@given(
    st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=1, max_size=60),
    st.sampled_from(["beijing", "shanghai", "guangzhou"]),
)
def test_daily_charges_telescope_to_period_cost(daily_ml, utility):
    """Rounded daily charges add up exactly to the rounded cost of the total: no fen drift."""
    t = tariff_for(utility)
    used = D(0)
    total = D(0)
    for ml in daily_ml:
        v = D(ml) / 1000
        c = t.charge(used, v)
        assert c >= 0 and c == c.quantize(D("0.01"))
        total += c
        used += v
    assert total == t.cost_of_litres(used)


def test_account_number_formats():
    assert tariff_for("shanghai").validate_account_number("00000001") == "00000001"
    for bad in ("0000001", "000000001", "0000000a", "１２３４５６７８", "", " 00000001"):
        with pytest.raises(ValueError, match="exactly 8 digits"):
            tariff_for("shanghai").validate_account_number(bad)


def test_malformed_tariff_data_is_refused(tmp_path):
    cases = {
        "unbounded": {"tiers": [{"up_to_m3": "10", "yuan_per_m3": "1"}]},
        "order": {
            "tiers": [
                {"up_to_m3": "10", "yuan_per_m3": "1"},
                {"up_to_m3": "5", "yuan_per_m3": "2"},
                {"up_to_m3": None, "yuan_per_m3": "3"},
            ]
        },
        "digits": {"account_number_digits": 20},
        "period": {"period": "weekly"},
        "missing": {"tiers": [{"yuan_per_m3": "1"}]},
    }
    base = {
        "name": "x",
        "account_number_digits": 10,
        "period": "annual",
        "tiers": [{"up_to_m3": "10", "yuan_per_m3": "1"}, {"up_to_m3": None, "yuan_per_m3": "2"}],
    }
    for name, change in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"city": {**base, **change}}))
        with pytest.raises(ValueError):
            load_tariffs(path)
