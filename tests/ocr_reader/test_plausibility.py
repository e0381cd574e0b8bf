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


def test_a_million_m3_is_beyond_a_household_meter_unless_its_history_says_otherwise():
    from ocr_reader.plausibility import HOUSEHOLD_MAX_M3, beyond_household_range

    assert not beyond_household_range(99_999.9) and not beyond_household_range(HOUSEHOLD_MAX_M3 - 1)
    assert beyond_household_range(HOUSEHOLD_MAX_M3) and beyond_household_range(29_565_003.0)
    assert beyond_household_range(29_565_003.0, previous_m3=1_234.5)
    assert not beyond_household_range(29_565_003.0, previous_m3=29_565_000.0)  # a bulk meter, known


def test_a_serial_number_read_as_a_counter_waits_for_a_person(monkeypatch):
    """Eight wheels reading 29565003 m3 (a dev photo's serial number, read when the counter's black wheels
    were not found): more than a household meter holds, so it waits; with the meter's own history at that
    size it is stored, and with the rule off it was stored whatever."""
    import numpy as np

    from ocr_reader import pipeline
    from ocr_reader.api import Previous, read_photo
    from ocr_reader.synth import render_photo

    data, truth = render_photo(np.random.default_rng(0), "train", shown=(29565003, 8, 0))
    assert truth is not None
    r = read_photo(data)
    assert r.reading == truth.reading == "29565003" and r.reason == "beyond_household_range"
    assert not read_photo(data, previous=Previous(29_565_000.0)).needs_review
    monkeypatch.setattr(pipeline, "LARGE_DOUBT", False)
    # eight black wheels and no red ones is also more whole wheels than a household counter has
    assert read_photo(data).reason == "decimal_point_uncertain"
    monkeypatch.setattr(pipeline, "UNSEEN_DECIMALS_DOUBT", False)
    assert not read_photo(data).needs_review


def test_more_whole_wheels_than_a_household_counter_has_means_decimals_unseen():
    from ocr_reader.plausibility import HOUSEHOLD_MAX_WHOLE_WHEELS, decimals_unseen, household_counter

    assert HOUSEHOLD_MAX_WHOLE_WHEELS == 6
    assert not decimals_unseen(6, 0, 123_456.0)  # six black wheels: a household counter
    assert not decimals_unseen(7, 1, 1_234_567.8) and not decimals_unseen(5, 3, 896.591)
    assert decimals_unseen(7, 0, 896_591.0) and decimals_unseen(8, 0, 896_591.0)
    # the previous reading settles the magnitude: a missed point makes the value >= 10x the previous one
    assert decimals_unseen(8, 0, 896_591.0, previous_m3=896.0)
    assert not decimals_unseen(8, 0, 896_591.0, previous_m3=896_000.0)
    assert decimals_unseen(8, 0, 896_591.0, previous_m3=89_659.1)  # exactly 10x: as a missed point makes it
    assert not household_counter(8, 0, 896_591.0) and household_counter(5, 3, 896.591)


def test_a_counter_whose_decimal_wheels_are_not_red_waits_for_a_person(monkeypatch):
    """00896.591 drawn with its three decimal wheels as black as the others (a counter whose red has faded,
    or one that marks its decimals with a printed comma) reads 00896591: 896,591 m3, under a million,
    a thousand times the register. Eight whole wheels and no red ones wait; the meter's history at that
    size lets it through; with the rule off it was stored."""
    import numpy as np

    from ocr_reader import pipeline
    from ocr_reader.api import Previous, read_photo
    from ocr_reader.synth import render_photo

    data, truth = render_photo(np.random.default_rng(1), "train", shown=(896591, 8, 0))
    assert truth is not None
    r = read_photo(data)
    assert r.reading == truth.reading == "00896591" and r.reason == "decimal_point_uncertain"
    assert read_photo(data, previous=Previous(896.2)).needs_review  # the register's size: 1000x below
    assert not read_photo(data, previous=Previous(896_500.0)).needs_review  # a bulk meter, known
    monkeypatch.setattr(pipeline, "UNSEEN_DECIMALS_DOUBT", False)
    assert not read_photo(data).needs_review


def test_red_wheels_after_fewer_than_four_black_ones_mean_leading_wheels_lost():
    from ocr_reader.plausibility import household_counter, leading_wheels_lost

    assert leading_wheels_lost(3, 3) and leading_wheels_lost(1, 1)
    assert not leading_wheels_lost(4, 3) and not leading_wheels_lost(3, 0)  # no red: nothing to follow
    assert not household_counter(3, 3, 8.117) and household_counter(5, 3, 2118.117)
