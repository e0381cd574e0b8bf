"""Pointer dials: the gearing rule, rendered rotary-vane photos, photos without dials, hostile input."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from bench.ocr_dials import within_one
from ocr_reader.dials import CONFIDENT, DialReading, combine_with_wheels, read_dials, resolve_gearing
from ocr_reader.synth import render_photo, wheel_positions
from ocr_reader.synth_dials import dial_positions, render_dial_photo

DIALS_SEED = 55_555  # neither the development seeds nor the bench seed


def _bgr(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def dial_photos() -> list:
    """24 rotary-vane photos in held-out fonts."""
    rng = np.random.default_rng(DIALS_SEED)
    return [render_dial_photo(rng, "heldout") for _ in range(24)]


def test_gearing_rounds_coarse_dial_by_the_finer_one():
    # x0.1 looks nearly at 4 and x0.01 is at 0.5: the x0.1 dial has just passed 4.
    g = resolve_gearing([3.95, 0.5, 5.0, 0.0])
    assert g.digits == [4, 0, 5, 0] and g.consistent
    assert g.positions[0] == pytest.approx(4.05)
    # The same x0.1 angle with x0.01 at 9.5: it has not reached 4 yet.
    g = resolve_gearing([3.95, 9.5, 5.0, 0.0])
    assert g.digits == [3, 9, 5, 0] and g.consistent


def test_gearing_wraps_and_flags_contradictions():
    g = resolve_gearing([0.02, 0.1, 0.9, 9.0])  # 0.0009 m3: every pointer just past or before 0
    assert g.digits == [0, 0, 0, 9] and g.consistent
    assert g.positions[0] == pytest.approx(0.009)
    bad = resolve_gearing([3.5, 0.0, 0.0, 0.0])  # x0.1 half way while x0.01 sits on 0: a misread
    assert not bad.consistent and bad.residuals[0] == pytest.approx(0.5)


def test_gearing_on_true_positions_gives_the_true_decimals():
    rng = np.random.default_rng(7)
    for _ in range(200):
        v = float(rng.integers(0, 10_000)) / 10_000 + float(rng.random()) * 1e-4
        g = resolve_gearing(dial_positions(v))
        assert g.consistent and "".join(map(str, g.digits)) == f"{int(v * 10_000):04d}"


def test_wheels_and_dials_combine_with_the_carry_rule():
    reading = DialReading("9800", 0.98, 1.0)
    # 1239.98 m3: the tens wheel is rolling towards 4 with the last wheel (odometer carry).
    assert combine_with_wheels(wheel_positions(1239.98, 4), reading) == pytest.approx(1239.98)
    # A last wheel misread as 9.6 is still 9 once the dials say 0.98 of the way to 0.
    assert combine_with_wheels([1.0, 2.0, 3.98, 9.6], reading) == pytest.approx(1239.98)
    assert combine_with_wheels(wheel_positions(1240.02, 4), DialReading("0200", 0.02, 1.0)) == pytest.approx(
        1240.02
    )
    with pytest.raises(ValueError):
        combine_with_wheels([], reading)


def test_rendered_dial_photos_are_read(dial_photos):
    right = confident = confident_right = 0
    for data, truth in dial_photos:
        r = read_dials(_bgr(data), truth.window_quad)
        if r is None:
            continue
        ok = within_one(r.decimals, truth.fraction_m3)
        right += ok
        if r.confidence >= CONFIDENT:
            confident += 1
            confident_right += ok
            # The dials found are the drawn ones, coarsest first.
            for d, (cx, cy), rad in zip(r.per_dial, truth.dial_centres, truth.dial_radii, strict=True):
                assert math.dist(d["centre_px"], (cx, cy)) < 0.4 * rad
            assert abs(r.value_fraction_m3 - truth.fraction_m3) < 2e-4 or ok
    n = len(dial_photos)
    assert right >= 0.6 * n, f"{right} of {n} read within one unit"
    assert confident >= 0.5 * n, f"only {confident} of {n} confident"
    assert confident_right == confident, f"{confident - confident_right} confident readings wrong"


def test_without_window_the_photo_up_is_used(dial_photos):
    right = sum(
        (r := read_dials(_bgr(data), None)) is not None and within_one(r.decimals, truth.fraction_m3)
        for data, truth in dial_photos[:12]
    )
    assert right >= 6


def test_photos_without_dials_give_none():
    rng = np.random.default_rng(DIALS_SEED + 1)
    for _ in range(6):
        data, truth = render_dial_photo(rng, "heldout", with_dials=False)
        assert read_dials(_bgr(data), truth.window_quad) is None
        assert read_dials(_bgr(data), None) is None


def test_odometer_photos_with_random_distractor_dials_are_not_confident():
    # synth.render_photo draws up to four red pointer dials at random angles (not geared).
    rng = np.random.default_rng(DIALS_SEED + 2)
    for _ in range(12):
        data, truth = render_photo(rng, "heldout")
        r = read_dials(_bgr(data), truth.window_quad)
        assert r is None or r.confidence < CONFIDENT


@pytest.mark.parametrize(
    "image",
    [
        np.full((480, 640, 3), (0, 0, 255), np.uint8),  # all red
        np.zeros((10, 10, 3), np.uint8),  # tiny
        np.zeros((1, 2000, 3), np.uint8),  # a line
        np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8),  # noise
        np.full((480, 640, 3), 255, np.uint8),  # blank
    ],
    ids=["all_red", "tiny", "line", "noise", "blank"],
)
def test_hostile_images_give_no_confident_reading(image):
    for quad in (None, [(0, 0), (9, 0), (9, 4), (0, 4)], [(100, 50), (300, 60), (298, 120), (98, 110)]):
        r = read_dials(image, quad)
        assert r is None or r.confidence < CONFIDENT
    assert read_dials(image, [(0, 0), (9, 0), (9, 4), (0, 4)]) is None  # window too small for dials


def test_red_stripes_are_not_dials():
    img = np.full((480, 640, 3), 230, np.uint8)
    for k in range(8):  # short red bars in a row look like pointers but are not geared dials
        cv2.line(img, (60 + 70 * k, 300), (80 + 70 * k, 260 + 5 * k), (20, 20, 210), 5)
    r = read_dials(img, None)
    assert r is None or r.confidence < CONFIDENT


@pytest.mark.parametrize(
    ("image", "quad"),
    [
        (np.zeros((100, 100), np.uint8), None),  # grey, not BGR
        (np.zeros((100, 100, 3), np.float32), None),  # not uint8
        ("photo.jpg", None),  # not an array
        (np.zeros((100, 100, 3), np.uint8), [(0, 0), (1, 1)]),  # two corners
        (np.zeros((100, 100, 3), np.uint8), [(0, 0), (0, 0), (0, 0), (0, 0)]),  # no area
        (np.zeros((100, 100, 3), np.uint8), [(0, 0), (float("nan"), 0), (5, 5), (0, 5)]),
    ],
    ids=["grey", "float", "path", "two_corners", "no_area", "nan"],
)
def test_bad_arguments_raise_value_error(image, quad):
    with pytest.raises(ValueError):
        read_dials(image, quad)


def test_the_photo_reader_adds_confident_dials_to_the_wheels(dial_photos):
    from ocr_reader.api import read_photo

    used = 0
    for data, truth in dial_photos[:10]:
        r = read_photo(data)
        if r.dials_used:
            used += 1
            whole, decimals = r.reading.split(".")
            assert len(decimals) == 4 and r.decimal_digits == 4 and r.integer_digits == len(whole)
            assert r.value_m3 == pytest.approx(int(whole) + int(decimals) / 10_000, abs=1e-4)
            if not r.needs_review:  # what would be stored: right to one unit of the finest dial
                assert within_one(decimals, truth.fraction_m3), (r.reading, truth.value_m3)
                assert int(whole) == math.floor(truth.value_m3 + 1e-9), (r.reading, truth.value_m3)
        else:
            assert "." not in r.reading  # the wheels alone, at their own resolution
    assert used >= 6


def test_a_dial_half_a_turn_off_from_the_last_wheel_is_not_used():
    from ocr_reader.pipeline import DIAL_WHEEL_TOLERANCE, _dial_wheel_residual

    assert _dial_wheel_residual(7.3, 0.3) == pytest.approx(0.0)
    assert _dial_wheel_residual(9.95, 0.95) == pytest.approx(0.0)
    assert _dial_wheel_residual(0.05, 0.95) == pytest.approx(0.1)  # wheel just past 0, dial at 9.5
    # A x0.1 pointer read from its tail: 9.1 on the wheel, 0.6 from the dials.
    assert _dial_wheel_residual(9.1, 0.6) > DIAL_WHEEL_TOLERANCE
