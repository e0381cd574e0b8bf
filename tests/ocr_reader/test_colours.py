"""Red (decimal) wheels by colour: red faces, thin red digits, dim photos; tinted photos are not decimals."""

from __future__ import annotations

import cv2
import numpy as np

from ocr_reader.pipeline import _decimals
from ocr_reader.wheels import is_red, red_wheels


def _wheel(face, ink, digit=7, thickness=2) -> np.ndarray:
    img = np.zeros((64, 40, 3), np.uint8)
    img[:] = face
    cv2.putText(img, str(digit), (6, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.4, ink, thickness)
    return img


def test_red_face_and_thin_red_digits_are_red():
    assert is_red(_wheel((30, 30, 200), (255, 255, 255)))
    assert is_red(_wheel((235, 235, 235), (40, 40, 210), thickness=1))
    assert not is_red(_wheel((235, 235, 235), (20, 20, 20)))
    assert not is_red(_wheel((20, 20, 20), (235, 235, 235)))


def test_brown_print_on_a_beige_face_is_not_red():
    assert not is_red(_wheel((150, 190, 225), (40, 70, 110)))


def test_dim_red_wheels_are_red_beside_black_ones():
    black = [_wheel((25, 25, 25), (200, 200, 200), d) for d in range(5)]
    dim_red = [_wheel((40, 40, 75), (190, 190, 200), d) for d in (3, 4)]
    assert not any(is_red(c) for c in dim_red)  # too dull to be red alone
    assert red_wheels(black + dim_red) == [False] * 5 + [True, True]
    assert _decimals(red_wheels(black + dim_red)) == 2


def test_a_red_tinted_row_has_no_decimals():
    row = [_wheel((30, 30, 200), (255, 255, 255), d) for d in range(6)]
    assert all(red_wheels(row)) and _decimals(red_wheels(row)) == 0


def test_a_red_wheel_missed_under_glare_still_counts_among_the_decimals():
    # Four black wheels, then three red ones whose middle one glare bleached: 3 decimals, not 1.
    assert _decimals([False] * 4 + [True, False, True]) == 3
    # A lone red wheel at the end is one decimal; a red wheel far from the end is not a decimal run.
    assert _decimals([False] * 6 + [True]) == 1
    assert _decimals([False] * 3 + [True] + [False] * 2 + [True]) == 1
    assert _decimals([]) == 0
