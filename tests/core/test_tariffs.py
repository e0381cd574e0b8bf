"""Tiered tariffs as data: costs at tier edges, carried position, validation of the data."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.tariffs import load_tariffs, split_tiers, tariff_for

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
        "zone": {"zone": "+08:00"},
        "no_zone": {"zone": None},
        "negative": {
            "tiers": [{"up_to_m3": "10", "yuan_per_m3": "-1"}, {"up_to_m3": None, "yuan_per_m3": "2"}]
        },
    }
    base = {
        "name": "x",
        "zone": "Asia/Shanghai",
        "account_number_digits": 10,
        "period": "annual",
        "tiers": [{"up_to_m3": "10", "yuan_per_m3": "1"}, {"up_to_m3": None, "yuan_per_m3": "2"}],
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"city": base}))
    assert load_tariffs(good)["city"].bounds_ml == [10_000_000]  # the base entry itself is valid
    for name, change in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"city": {**base, **change}}))
        with pytest.raises(ValueError):
            load_tariffs(path)


def test_every_tariff_names_its_source_date_and_zone():
    """Prices as published: the file says who published them, when, and when they were checked."""
    for code, t in load_tariffs().items():
        assert t.source is not None, code
        assert t.source.url.startswith("http") and t.source.published[:2] == "20", code
        assert t.source.effective and t.source.checked, code
        assert t.zone.key == "Asia/Shanghai", code


def test_published_prices():
    """The three tables as the cited sources give them (Shanghai's top tier is 5.83, not 5.22)."""
    prices = {
        c: [str(t.yuan_per_m3) for t in tariff_for(c).tiers] for c in ("beijing", "shanghai", "guangzhou")
    }
    assert prices == {
        "beijing": ["5.00", "7.00", "9.00"],
        "shanghai": ["3.45", "4.83", "5.83"],
        "guangzhou": ["2.55", "3.82", "7.65"],
    }
    bounds = {c: tariff_for(c).bounds_ml for c in prices}
    assert bounds == {
        "beijing": [180_000_000, 260_000_000],
        "shanghai": [220_000_000, 300_000_000],
        "guangzhou": [21_000_000, 27_000_000],
    }


@given(
    st.integers(0, 400_000_000),
    st.integers(0, 400_000_000),
    st.sampled_from(["beijing", "shanghai", "guangzhou"]),
)
def test_tier_split_sums_to_the_volume_and_prices_to_the_charge(before_ml, used_ml, utility):
    t = tariff_for(utility)
    split = t.split_tiers(before_ml, used_ml)
    assert sum(split) == used_ml and all(v >= 0 for v in split)
    exact = sum(D(v) / 1_000_000 * tier.yuan_per_m3 for v, tier in zip(split, t.tiers, strict=True))
    assert exact == t.cost_exact(D(before_ml + used_ml) / 1_000_000) - t.cost_exact(D(before_ml) / 1_000_000)
    assert t.charge_ml(before_ml, used_ml) == t.cost_of_ml(before_ml + used_ml) - t.cost_of_ml(before_ml)


def test_split_tiers_without_bounds_and_refusals():
    assert split_tiers(5, 7, []) == [7]
    with pytest.raises(ValueError):
        split_tiers(-1, 5, [10])


def test_billing_period_bounds_in_the_utilitys_zone():
    gz = tariff_for("guangzhou")
    # 2026-02-01T00:00+08:00 ends January's period: the instant of a boundary belongs to the period it ends
    feb1 = 1_769_875_200
    assert gz.period_bounds_s(feb1) == (1_767_196_800, feb1)
    assert gz.period_bounds_s(feb1 + 1)[0] == feb1
