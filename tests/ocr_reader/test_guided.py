"""Help from the resident and the meter's history: a guided window, the previous reading, alternatives."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ocr_reader.api import Previous, read_photo
from ocr_reader.scoring import is_correct


def _window(data: bytes, truth) -> list:
    img = Image.open(io.BytesIO(data))
    return (np.array(truth.window_quad, np.float32) / [img.width, img.height]).tolist()


def test_guided_window_is_read(heldout_photos):
    right = accepted_wrong = 0
    for data, truth in heldout_photos[:10]:
        r = read_photo(data, window=_window(data, truth))
        assert r.window_source == "given"
        digits = r.reading.replace(".", "")
        ok = len(digits) == truth.n_wheels and is_correct(int(digits), truth.value_units, truth.n_wheels)
        right += ok
        accepted_wrong += not ok and not r.needs_review
    assert right >= 8 and accepted_wrong == 0, (right, accepted_wrong)


def test_guided_box_as_x0_y0_x1_y1(one_photo):
    data, truth = one_photo
    q = np.array(_window(data, truth))
    box = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
    r = read_photo(data, window=box)
    assert r.window_source == "given" and r.reading.replace(".", "")[:3] == truth.reading.replace(".", "")[:3]


@pytest.mark.parametrize(
    "window",
    [(0, 0, 2, 2), [1, 2, 3], (0.1, 0.1, 0.105, 0.102), (float("nan"), 0, 1, 1), "abcd", [[0, 0]] * 4],
)
def test_bad_windows_are_value_errors(one_photo, window):
    with pytest.raises(ValueError):
        read_photo(one_photo[0], window=window)


def test_previous_reading_bounds_what_is_plausible(one_photo):
    data, truth = one_photo
    value = float(truth.reading)
    assert not read_photo(data, previous=Previous(value - 0.5, elapsed_s=3600)).needs_review
    lower = read_photo(data, previous=Previous(value + 5.0))
    assert lower.needs_review and lower.reason == "lower_than_previous"
    jump = read_photo(data, previous={"value_m3": value - 50.0, "elapsed_s": 60.0, "max_flow_m3_per_h": 3.0})
    assert jump.needs_review and jump.reason == "impossible_jump"
    with pytest.raises(ValueError):
        read_photo(data, previous=Previous(float("inf")))
    with pytest.raises(TypeError):
        read_photo(data, previous="12")


def test_review_offers_alternatives(heldout_photos):
    reviewed = []
    for data, _ in heldout_photos:
        try:
            r = read_photo(data)
        except ValueError:
            continue
        if r.needs_review:
            reviewed.append(r)
    assert reviewed
    with_alt = [r for r in reviewed if r.alternatives]
    assert len(with_alt) >= len(reviewed) // 2
    for r in with_alt:
        for alt in r.alternatives:
            assert set(alt) == {"reading", "value_m3", "why", "fit"} and alt["reading"] != ""


def test_the_window_read_comes_back_as_fractions_of_the_photo(one_photo):
    # The reader says where it read, in the form a guided upload sends (fractions of the upright photo):
    # the console outlines it on the photo, and an app may send it back as the window.
    data, truth = one_photo
    r = read_photo(data)
    assert r.window_source != "given" and len(r.window_frac) == 4
    want = np.array(_window(data, truth))
    got = np.array(r.window_frac)
    assert ((got >= 0) & (got <= 1)).all()
    # the found window is the true one, give or take the frame around the wheels
    assert np.abs(got.mean(axis=0) - want.mean(axis=0)).max() < 0.03
    assert np.abs(got - want).max() < 0.1
    again = read_photo(data, window=r.window_frac)
    assert again.window_source == "given" and again.reading == r.reading
    assert np.abs(np.array(again.window_frac) - got).max() < 0.002
