"""The odometer carry rule turns wheel positions into the digits shown."""

from __future__ import annotations

from ocr_reader.carry import resolve
from ocr_reader.synth import shown_reading, wheel_positions


def test_still_wheels_read_as_is():
    r = resolve([1.0, 2.0, 3.0, 4.0])
    assert r.digits == [1, 2, 3, 4] and r.consistent


def test_carry_in_flight_rounds_up_past_halfway():
    # 1239.7: the units wheel is 70 % of the way to 0, so the tens wheel is 70 % to 4.
    r = resolve([1.0, 2.0, 3.7, 9.7])
    assert r.digits == [1, 2, 4, 0] and r.consistent


def test_ambiguous_upper_wheel_is_settled_by_the_wheel_below():
    # The tens wheel alone looks halfway between 3 and 4; the units wheel at 9.2 says 3.2.
    r = resolve([1.0, 2.0, 3.5, 9.2])
    assert r.digits == [1, 2, 3, 9] and r.consistent


def test_multi_wheel_carry():
    r = resolve([0.6, 9.6, 9.6, 9.6])
    assert r.digits == [1, 0, 0, 0] and r.consistent


def test_rolling_upper_wheel_without_a_carry_is_inconsistent():
    r = resolve([1.0, 2.0, 3.5, 4.0])
    assert not r.consistent


def test_resolve_agrees_with_the_renderer_everywhere():
    for v in (0.0, 9.95, 1239.7, 1299.3, 1299.7, 99999.6, 12345.49, 80009.51):
        n = 6
        r = resolve(wheel_positions(v, n))
        assert int("".join(map(str, r.digits))) == shown_reading(v, n), v


def test_a_rolling_last_wheel_read_a_digit_too_far_is_moved_back_for_the_reviewer():
    from ocr_reader.carry import resolve_nearest_consistent

    # 7592638.54 shows ...38|9: the last wheel read 9.51 would carry into a wheel that stands still.
    est = [7.0, 4.99, 8.98, 1.93, 5.98, 2.97, 9.51]
    assert not resolve(est).consistent and resolve(est).digits[-2:] == [3, 0]
    moved = resolve_nearest_consistent(est)
    assert moved.digits == [7, 5, 9, 2, 6, 3, 9] and not moved.consistent  # still for review
    # A consistent reading is left as it is.
    assert resolve_nearest_consistent([1.0, 2.0, 3.2]).digits == [1, 2, 3]


def test_half_down_reads_a_wheel_half_way_as_the_lower_digit():
    # 686.55 whole m3 is 686: nearest-the-centre makes it a toss on the last hundredth of the estimate.
    assert resolve([0.0, 0.0, 6.0, 8.0, 6.52]).digits[-1] == 7
    assert resolve([0.0, 0.0, 6.0, 8.0, 6.52], half_down=True).digits == [0, 0, 6, 8, 6]
    assert resolve([0.0, 0.0, 6.0, 8.0, 6.48], half_down=True).digits == [0, 0, 6, 8, 6]
    # the wheels a half-way last wheel carries follow it: 1239.5 is 1239 whole
    assert resolve([1.0, 2.0, 3.5, 9.5], half_down=True).digits == [1, 2, 3, 9]
    # near a digit the nearest one stays (a wheel standing at 7, read a little low or high)
    assert resolve([1.0, 2.0, 3.0, 6.85], half_down=True).digits == [1, 2, 3, 7]
    assert resolve([1.0, 2.0, 3.0, 7.2], half_down=True).digits == [1, 2, 3, 7]


def test_a_whole_m3_counter_whose_last_wheel_is_half_way_reads_the_lower_whole_m3():
    # A counter of whole m3 only (no red wheels), its last wheel turning freely, photographed at 686.62
    # m3: the reading is 686 m3, not the 687 the wheel nearly shows (a fixed-camera water meter read
    # 00687 for 686.55 m3 turned sideways, and stored it).
    import numpy as np

    from ocr_reader.api import read_photo
    from ocr_reader.synth import PhotoParams, render_photo

    easy = PhotoParams(3, 3, 0.3, 1, 92, glare_prob=0, dirt_prob=0)
    stored = 0
    for seed in range(3, 6):
        data, _truth = render_photo(np.random.default_rng(seed), params=easy, shown=(686.62, 5, 0))
        r = read_photo(data)
        assert 6.3 < r.wheels[-1]["position"] < 6.7, r.wheels  # the last wheel seen half way
        assert r.reading == "00686" and r.value_m3 == 686.0, r
        stored += not r.needs_review
    assert stored >= 2
