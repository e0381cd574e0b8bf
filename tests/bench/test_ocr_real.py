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


def test_side_views_keep_the_size_and_make_the_near_side_larger():
    import pytest

    from bench.ocr_real import seen_from_side

    row = {"reading": "00123"}
    img = np.full((60, 120, 3), 255, np.uint8)
    img[20:40, 10:30] = 0  # two equal dark squares, left and right of the centre
    img[20:40, 90:110] = 0
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")

    def widths(angle: float) -> tuple[int, int]:
        ((data, r),) = seen_from_side([(buf.getvalue(), row)], angle)
        out = Image.open(io.BytesIO(data))
        assert r is row and out.format == "JPEG" and "exif" not in out.info and out.size == (120, 60)
        dark = np.asarray(out.convert("L")) < 100
        cols = np.flatnonzero(dark[30])
        left, right = cols[cols < 60], cols[cols >= 60]
        return len(left), len(right)

    left, right = widths(30)  # seen from the left: the left square nearer, wider than the right one
    assert left > right + 2
    left, right = widths(-30)
    assert right > left + 2
    assert abs(np.subtract(*widths(0))) <= 1
    with pytest.raises(ValueError, match="edge-on"):
        seen_from_side([(buf.getvalue(), row)], 75)
