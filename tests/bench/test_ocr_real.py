"""The real-photo bench's copies: turned as by a phone that wrote no EXIF; recompressed as by an app."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench.ocr_real import recompressed, turned


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


def test_recompressed_copies_are_upright_jpegs_of_the_asked_quality():
    import pytest

    row = {"reading": "00123"}
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (64, 96, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "PNG")
    ((low, r),) = recompressed([(buf.getvalue(), row)], 30)
    ((high, _),) = recompressed([(buf.getvalue(), row)], 95)
    assert r is row and Image.open(io.BytesIO(low)).format == "JPEG" and len(low) < len(high)
    assert _dark_corner(recompressed([(_photo(), row)])[0][0]) == ((60, 40), (0, 0))
    with pytest.raises(ValueError, match="quality"):
        recompressed([(_photo(), row)], 100)


def test_slanted_copies_turn_counterclockwise_on_a_grown_canvas():
    import pytest

    from bench.ocr_real import slanted

    row = {"reading": "00123"}
    img = np.full((40, 60, 3), 255, np.uint8)
    img[18:22, 5:55] = 0  # a level dark bar
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    ((data, r),) = slanted([(buf.getvalue(), row)], 30)
    out = Image.open(io.BytesIO(data))
    assert r is row and out.format == "JPEG" and "exif" not in out.info
    assert out.size[0] > 60 and out.size[1] > 40  # the whole photo kept
    a = np.asarray(out.convert("L")).astype(float)
    ys, xs = np.nonzero(a < 100)
    slope = np.polyfit(xs, ys, 1)[0]
    assert -0.7 < slope < -0.45  # counterclockwise: the bar rises to the right, tan 30 = 0.58
    with pytest.raises(ValueError, match="sideways"):
        slanted([(buf.getvalue(), row)], 90)
