"""textdet: a small meter in a large photo is looked at twice, the second time closer."""

from __future__ import annotations

import pytest

from ocr_reader import textdet
from tests.ocr_reader.faces import FACE_READING, drawn_face


def _box(x: float, y: float, w: float = 60.0, h: float = 12.0) -> textdet.TextBox:
    return textdet.TextBox((x, y), (w, h), 0.0, 0.9)


def test_text_region_is_the_square_around_the_print_grown_by_its_margin():
    boxes = [_box(1500.0, 900.0), _box(1520.0, 960.0)]  # print spanning 80 x 72 px of a 4000 x 3000 photo
    x0, y0, x1, y1 = textdet.text_region(boxes, 4000, 3000)
    assert x0 <= 1470 and x1 >= 1550 and y0 <= 894 and y1 >= 966  # every box inside
    side = 80 * (1 + 2 * textdet.ZOOM_MARGIN)
    assert x1 - x0 == pytest.approx(side, abs=2) and y1 - y0 == pytest.approx(side, abs=2)  # square


def test_text_region_is_none_when_the_print_fills_the_photo_or_there_is_none():
    assert textdet.text_region([], 4000, 3000) is None
    spread = [_box(300.0, 300.0), _box(3700.0, 2700.0)]
    assert textdet.text_region(spread, 4000, 3000) is None
    # the region clipped at the photo's edge keeps what lies inside
    x0, y0, x1, y1 = textdet.text_region([_box(20.0, 20.0)], 4000, 3000)
    assert (x0, y0) == (0, 0) and x1 > 50


@pytest.mark.parametrize("seed", [1, 7])
def test_a_small_meter_in_a_large_photo_is_read_after_a_closer_look(monkeypatch, seed):
    """A face whose counter is 8 wheels of 28 x 36 pixels, at 30 % and 20 % of a larger scene
    (`bench.ocr_real.large_scene_image`, 2133 and 3200 pixels wide, decoded at 1024): shrunk to 640
    pixels for the detector its wheels are 7-11 pixels high and no counter is found. Looked at again
    around the print found (enlarged to the detector's size), the counter is read right."""
    import cv2

    from bench.ocr_real import large_scene_image
    from ocr_reader.api import BadImage, read_photo
    from ocr_reader.decode import WORK_LONG_SIDE_PX

    looks: list[tuple[int, ...]] = []
    once = textdet._detect_once

    def counted(bgr, long_side_px):
        looks.append(bgr.shape[:2])
        return once(bgr, long_side_px)

    monkeypatch.setattr(textdet, "_detect_once", counted)
    for share in (0.3, 0.2):
        scene = large_scene_image(drawn_face(seed, (28, 36), 0.6), share)
        data = cv2.imencode(".png", scene)[1].tobytes()
        looks.clear()
        monkeypatch.setattr(textdet, "ZOOM", True)
        r = read_photo(data)
        assert r.reading == FACE_READING, (share, r.reading, r.reason)
        # the whole photo as decoded (long side WORK_LONG_SIDE_PX), then the face, closer
        assert max(looks[0]) == WORK_LONG_SIDE_PX and max(looks[1]) < 0.5 * WORK_LONG_SIDE_PX
        monkeypatch.setattr(textdet, "ZOOM", False)
        with pytest.raises(BadImage) as err:
            read_photo(data)
        assert err.value.reason == "no_meter"


def test_a_photo_the_meter_fills_or_a_small_one_is_looked_at_once(monkeypatch):
    """No second look where it cannot show more: a photo no larger than ZOOM_MIN_SHRINK x the detector's
    input, or one whose print spreads over it (the bounds on time hold: at most two looks a photo)."""
    import cv2

    looks: list[tuple[int, int]] = []
    once = textdet._detect_once

    def counted(bgr, long_side_px):
        looks.append(bgr.shape[:2])
        return once(bgr, long_side_px)

    monkeypatch.setattr(textdet, "_detect_once", counted)
    face = drawn_face(5)
    textdet.detect(face)
    assert len(looks) == 1
    looks.clear()
    big = cv2.resize(face, (2560, 1920), interpolation=cv2.INTER_CUBIC)  # the face fills a large photo
    assert textdet.detect(big) and len(looks) == 1
