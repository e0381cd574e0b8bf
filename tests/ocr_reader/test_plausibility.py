"""check_plausibility flags lower readings and impossible jumps."""

from __future__ import annotations

import math

import pytest

from ocr_reader.api import check_plausibility


def test_first_reading_is_plausible():
    assert check_plausibility(12.5, None, None).ok


def test_normal_increase_is_plausible():
    # 0.5 m3 in 2 h at a limit of 3 m3/h is fine.
    assert check_plausibility(100.5, 100.0, 7200).ok


def test_lower_reading_is_flagged():
    p = check_plausibility(99.0, 100.0, 3600)
    assert not p.ok and p.reason == "lower_than_previous"


def test_impossible_jump_is_flagged():
    # 10 m3 in one hour is more than 3 m3/h allows.
    p = check_plausibility(110.0, 100.0, 3600)
    assert not p.ok and p.reason == "impossible_jump"


def test_jump_limit_follows_max_flow():
    assert check_plausibility(110.0, 100.0, 3600, max_flow_m3_per_h=12.0).ok


def test_unknown_elapsed_only_checks_direction():
    assert check_plausibility(1000.0, 100.0, None).ok
    assert not check_plausibility(10.0, 100.0, None).ok


@pytest.mark.parametrize(
    "args",
    [(math.nan, 1.0, 1.0), (1.0, math.inf, 1.0), (-1.0, None, None), (1.0, 0.0, -5.0), (1.0, 0.0, 1.0, 0.0)],
)
def test_bad_arguments_raise(args):
    with pytest.raises(ValueError):
        check_plausibility(*args)
