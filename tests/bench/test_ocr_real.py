"""The real-photo bench's turned copies: sideways and upside down, as a phone that wrote no EXIF."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench.ocr_real import turned


def _photo() -> bytes:
    img = np.full((40, 60, 3), 255, np.uint8)
    img[:10, :10] = 0  # a dark mark at the top left
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def _dark_corner(data: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    img = Image.open(io.BytesIO(data))
    assert "exif" not in img.info
    a = np.asarray(img.convert("L"))
    h, w = a.shape
    corners = {(0, 0): a[:5, :5], (0, 1): a[:5, -5:], (1, 1): a[-5:, -5:], (1, 0): a[-5:, :5]}
    return (w, h), min(corners, key=lambda k: corners[k].mean())


def test_turned_copies_turn_clockwise_and_keep_the_truth():
    row = {"reading": "00123"}
    got = {q: turned([(_photo(), row)], q)[0] for q in (0, 1, 2, 3)}
    assert all(r is row for _, r in got.values())
    assert _dark_corner(got[0][0]) == ((60, 40), (0, 0))
    assert _dark_corner(got[1][0]) == ((40, 60), (0, 1))  # a quarter turn clockwise: top left -> top right
    assert _dark_corner(got[2][0]) == ((60, 40), (1, 1))
    assert _dark_corner(got[3][0]) == ((40, 60), (1, 0))


def test_turns_are_quarters_not_degrees():
    import pytest

    with pytest.raises(ValueError, match="quarter"):
        turned([(_photo(), {"reading": "00123"})], 180)
