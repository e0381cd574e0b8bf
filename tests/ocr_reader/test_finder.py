"""The learned text detector proposes counter windows: it ships in a wheel, finds rows, both ways up."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from ocr_reader import finder, textdet
from ocr_reader.api import BadImage, read_photo
from ocr_reader.decode import decode_photo
from ocr_reader.locate import Candidate, overlaps
from ocr_reader.scoring import is_correct


def test_detector_model_ships_inside_the_installed_wheel():
    path = textdet.original_path()
    assert path is not None and path.endswith("ch_PP-OCRv4_det_infer.onnx")
    assert "site-packages" in path and os.path.getsize(path) > 1_000_000
    assert textdet.available()


def test_rows_include_the_counter_window(heldout_photos):
    hits = 0
    for data, truth in heldout_photos[:12]:
        bgr = decode_photo(data)
        scale = bgr.shape[1] / Image.open(io.BytesIO(data)).width
        true_c = Candidate(np.array(truth.window_quad, np.float32) * scale, 1.0, 0.0, 0.0)
        hits += any(overlaps(c, true_c) for c in finder.text_candidates(bgr))
    assert hits >= 11, hits


def test_each_row_is_proposed_both_ways_up(one_photo):
    cands = finder.text_candidates(decode_photo(one_photo[0]))
    assert cands and len(cands) % 2 == 0
    for a, b in zip(cands[::2], cands[1::2], strict=True):
        assert np.allclose(np.roll(a.quad, 2, axis=0), b.quad)
        assert a.source == b.source == "text"


def test_black_and_red_parts_of_a_row_merge_into_one():
    left = textdet.TextBox((100.0, 50.0), (100.0, 20.0), 0.0, 0.9)
    right = textdet.TextBox((175.0, 51.0), (40.0, 21.0), 0.0, 0.8)
    far = textdet.TextBox((400.0, 50.0), (40.0, 20.0), 0.0, 0.8)
    below = textdet.TextBox((100.0, 120.0), (100.0, 20.0), 0.0, 0.8)
    rows = finder.merge_rows([left, right, far, below])
    assert len(rows) == 3
    merged = max(rows, key=lambda b: b.size[0])
    assert 140 <= merged.size[0] <= 160 and abs(merged.centre[0] - 127) < 5


def _turned(data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).rotate(180).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def test_upside_down_photos_without_exif_are_never_accepted_wrong(heldout_photos):
    right = accepted_wrong = 0
    for data, truth in heldout_photos[:16]:
        try:
            r = read_photo(_turned(data))
        except BadImage:
            continue
        digits = r.reading.replace(".", "")
        ok = len(digits) == truth.n_wheels and is_correct(int(digits), truth.value_units, truth.n_wheels)
        right += ok
        accepted_wrong += not r.needs_review and not ok
    assert accepted_wrong == 0
    assert right >= 10, right


def test_sideways_photo_is_read_along_its_row(one_photo):
    data, truth = one_photo
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=92)
    r = read_photo(buf.getvalue())
    digits = r.reading.replace(".", "")
    right = len(digits) == truth.n_wheels and is_correct(int(digits), truth.value_units, truth.n_wheels)
    assert right or r.needs_review


def test_rows_of_a_sideways_photo_are_found_in_it_turned_a_quarter(one_photo):
    """A photo taken sideways without EXIF: the detector looks again at it turned a quarter, and each row
    it finds there comes back in the photo's own pixels, read along the row (either way up)."""
    from ocr_reader import pipeline

    data, truth = one_photo
    upright = decode_photo(data)
    sideways = np.ascontiguousarray(np.rot90(upright, 1))  # turned a quarter counter-clockwise
    h, w = upright.shape[:2]
    rows = pipeline._quarter_turned_text(sideways)
    assert rows
    want = f"{truth.shown_units:0{truth.n_wheels}d}"
    read = set()
    for c in rows:
        assert (c.quad[:, 0] >= -w * 0.1).all() and (c.quad[:, 0] <= h * 1.1).all()  # in the photo's pixels
        lay = pipeline.best_layout(sideways, c)
        if lay is not None:
            read.add(pipeline._digits(lay))
    assert want in read, (want, read)


def test_a_photo_is_sideways_when_its_rows_of_print_run_up_and_down():
    across = textdet.TextBox((100.0, 50.0), (120.0, 30.0), 2.0, 0.9)
    down = textdet.TextBox((50.0, 100.0), (120.0, 30.0), 88.0, 0.9)
    small_down = textdet.TextBox((50.0, 100.0), (40.0, 10.0), -89.0, 0.9)
    square = textdet.TextBox((50.0, 50.0), (40.0, 38.0), 90.0, 0.9)
    assert not finder.sideways([across, across, small_down])
    assert finder.sideways([down, down, small_down, across])  # most of the print's weight runs up and down
    assert not finder.sideways([square]) and not finder.sideways([])


def test_a_sideways_photo_is_read_turned_back_upright_whichever_way_it_was_turned(one_photo, monkeypatch):
    """A photo taken sideways without EXIF: the detector's rows run up and down, so the photo is turned a
    quarter, the way that makes the row it reads run left to right, and read as an upright photo; the
    window comes back in the sideways photo's pixels."""
    from ocr_reader import pipeline

    data, truth = one_photo
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "PNG")  # lossless: turned back, the pixels are the upright ones
    upright = decode_photo(buf.getvalue())
    h, w = upright.shape[:2]
    centre = np.array(truth.window_quad, np.float32).mean(axis=0) * (w / Image.open(io.BytesIO(data)).width)
    seen: list[np.ndarray] = []
    choose = pipeline.choose_window

    def spy(bgr, window=None, boxes=None):
        seen.append(bgr)
        return choose(bgr, window, boxes)

    monkeypatch.setattr(pipeline, "choose_window", spy)
    for k, centre_px in ((1, (centre[1], w - 1 - centre[0])), (-1, (h - 1 - centre[1], centre[0]))):
        sideways = np.ascontiguousarray(np.rot90(upright, k))  # k=1: a quarter counter-clockwise
        seen.clear()
        r = pipeline.read_image(sideways)
        assert any(s.shape == upright.shape and np.array_equal(s, upright) for s in seen), k
        assert r.reading == truth.reading, (k, r.reading)
        got = np.array(r.window, np.float32).mean(axis=0)
        assert np.linalg.norm(got - np.array(centre_px)) < 0.05 * max(h, w), (k, got, centre_px)


def test_points_of_a_turned_photo_map_back_to_the_photo():
    from ocr_reader import pipeline

    h, w = 30, 50
    img = np.zeros((h, w), np.uint8)
    img[7, 41] = 255  # row 7, column 41
    for k in range(-1, 4):
        turned = np.rot90(img, k)
        y, x = np.argwhere(turned == 255)[0]
        assert pipeline._turned_back([[float(x), float(y)]], k, h, w) == [[41.0, 7.0]], k


def test_a_photo_is_turned_only_when_the_row_chosen_in_it_runs_up_and_down():
    """The print may run up and down for another reason (a label on its side): when the row chosen in
    the photo as it is reads across, the photo is read as it is; else it is turned the way that makes
    that row read left to right."""
    from ocr_reader import pipeline

    def lay(quad):
        return pipeline.Layout(
            Candidate(np.array(quad, np.float32), 1.0, 4.0, 0.02),
            np.zeros((8, 8, 3)),
            4,
            0.0,
            [],
            [],
            0.9,
            0.1,
            (0, 0),
        )

    across = lay([[10, 10], [110, 12], [110, 40], [10, 38]])
    down = lay([[40, 10], [40, 110], [10, 110], [10, 10]])  # tl -> tr runs downwards
    up = lay([[10, 110], [10, 10], [40, 10], [40, 110]])
    assert pipeline._quarters_to_read_across(across) == 0
    assert pipeline._quarters_to_read_across(down) == 1  # np.rot90 k=1 (counterclockwise)
    assert pipeline._quarters_to_read_across(up) == -1


def test_a_photo_is_slanted_when_its_rows_of_print_share_one_angle_off_level():
    level = textdet.TextBox((100.0, 50.0), (60.0, 20.0), 3.0, 0.9)
    slant = textdet.TextBox((200.0, 150.0), (120.0, 30.0), -41.0, 0.9)
    slant2 = textdet.TextBox((300.0, 250.0), (80.0, 20.0), -45.0, 0.8)
    down = textdet.TextBox((50.0, 100.0), (120.0, 30.0), 88.0, 0.9)
    assert finder.tilt_deg([level, level]) is None
    assert finder.tilt_deg([]) is None and finder.tilt_deg([down, down]) is None  # sideways: not a slant
    got = finder.tilt_deg([slant, slant2, level])
    assert got is not None
    angle, (cx, cy) = got
    assert angle in (-41.0, -45.0) and 200 <= cx <= 300 and 150 <= cy <= 250  # where the slanted rows lie
    # dial numerals all round a dial: no one direction carries the print
    numerals = [textdet.TextBox((100.0, 100.0), (30.0, 15.0), a, 0.9) for a in (-50, -25, 25, 50, 35, -35)]
    assert finder.tilt_deg(numerals) is None


def _slanted(img: np.ndarray, angle_deg: float) -> np.ndarray:
    """The photo turned angle_deg counterclockwise on a canvas holding all of it (a phone held askew)."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE), m


def test_points_of_a_levelled_photo_map_back_to_the_photo():
    from ocr_reader.locate import levelled, unlevelled

    img = np.zeros((60, 90, 3), np.uint8)
    out, m = levelled(img, -35.0, (40.0, 25.0))
    assert out.shape == img.shape
    pts = [[40.0, 25.0], [10.0, 50.0], [80.0, 5.0]]
    there = (np.array(pts) @ m[:, :2].T + m[:, 2]).tolist()
    assert np.allclose(there[0], [45.0, 30.0])  # the centre comes to the middle
    assert np.allclose(unlevelled(there, m), pts, atol=0.1)


def test_a_photo_taken_at_a_slant_has_its_rows_found_in_it_turned_level(heldout_photos, monkeypatch):
    """Held 40 degrees askew, a counter's rows run at a slant the text detector finds less often: they are
    found in the photo turned level about its slanted rows, and given back in the photo's own pixels and
    directions, where the wheels are read."""
    from ocr_reader import pipeline

    read = tried = 0
    slants: list[float] = []
    found = pipeline._levelled_rows

    def spy(bgr, slant):
        slants.append(slant[0])
        rows = found(bgr, slant)
        off = [((r.angle_deg - slant[0] + 90) % 180) - 90 for r in rows if r.size[0] > 2 * r.size[1]]
        assert off and all(abs(d) < 15 for d in off), off  # the rows run at the photo's slant
        return rows

    monkeypatch.setattr(pipeline, "_levelled_rows", spy)
    for data, truth in heldout_photos[:6]:
        upright = decode_photo(data)
        photo, m = _slanted(upright, 40.0)
        slants.clear()
        try:
            r = pipeline.read_image(photo)
        except BadImage:
            continue
        tried += 1
        assert slants and -60 <= slants[0] <= -20, slants  # turned 40 degrees ccw (renders tilt too)
        digits = r.reading.replace(".", "")
        ok = len(digits) == truth.n_wheels and is_correct(int(digits), truth.value_units, truth.n_wheels)
        assert ok or r.needs_review, (r.reading, truth.reading)
        read += ok
        scale = upright.shape[1] / Image.open(io.BytesIO(data)).width
        want = np.array(truth.window_quad, np.float64).mean(axis=0) * scale @ m[:, :2].T + m[:, 2]
        got = np.array(r.window, np.float64).mean(axis=0)
        assert np.linalg.norm(got - want) < 0.08 * max(photo.shape[:2]), (got, want)
    assert tried >= 5 and read >= 4, (tried, read)


def _rows_seen_from_side(gamma: float, angles_off: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)):
    """Four long rows of a 640 x 480 photo at heights 60-420, sloped as a face seen from the side slopes
    them (slope = -gamma * (y - 240)), each turned further by angles_off degrees."""
    rows = []
    for y, off in zip((60.0, 180.0, 300.0, 420.0), angles_off, strict=True):
        angle = float(np.degrees(np.arctan(-gamma * (y - 240.0)))) + off
        rows.append(textdet.TextBox((320.0, y), (300.0, 30.0), angle, 0.9))
    return rows


def test_a_photo_seen_from_one_side_is_told_by_its_rows_converging():
    shape = (480, 640, 3)
    gamma = np.tan(np.radians(30.0)) / (finder.FOCAL_LONG_SIDES * 640)
    got = finder.side_view(_rows_seen_from_side(gamma), shape)
    assert got is not None and abs(got - gamma) < 0.02 * gamma
    assert finder.side_view(_rows_seen_from_side(-gamma), shape) < 0  # from the other side
    assert finder.side_view(_rows_seen_from_side(0.0), shape) is None  # frontal: the rows are parallel
    # a small turn is left alone (the photos as shared show a few degrees of noise)
    small = np.tan(np.radians(finder.SIDE_MIN_DEG / 2)) / (finder.FOCAL_LONG_SIDES * 640)
    assert finder.side_view(_rows_seen_from_side(small), shape) is None
    # rows not parallel on the face (dial numerals, a sticker) say nothing
    assert finder.side_view(_rows_seen_from_side(gamma, (0.0, 12.0, -10.0, 8.0)), shape) is None
    assert finder.side_view(_rows_seen_from_side(gamma)[:2], shape) is None  # too few rows
    # a photo held askew as well (every row turned alike) still shows the side view
    askew = finder.side_view(_rows_seen_from_side(gamma, (5.0,) * 4), shape)
    assert askew is not None and abs(askew - gamma) < 0.15 * gamma


def test_a_row_seen_from_the_side_is_cut_narrowing_towards_its_far_end():
    quad = np.array([[120, 200], [520, 200], [520, 260], [120, 260]], np.float32)
    gamma = 0.001  # the left side nearer: the scale falls to the right
    out = finder.tapered(quad, gamma, 640)
    left, right = out[3, 1] - out[0, 1], out[2, 1] - out[1, 1]
    assert left == 60 and abs(right / left - (1 - 0.2) / (1 + 0.2)) < 1e-3  # x = -200 and +200
    assert np.allclose(out[:, 0], quad[:, 0]) and np.allclose(out[1:3, 1].mean(), 230)  # about its middle
    flipped = finder.tapered(quad, -gamma, 640)
    assert flipped[2, 1] - flipped[1, 1] == 60 and flipped[3, 1] - flipped[0, 1] < 60
    assert finder.tapered(quad, 0.0001, 640) is quad  # ends' scales within TAPER_MIN: a rectangle


def _face_seen_from_side(seed: int, angle_deg: float) -> tuple[bytes, str]:
    """A meter face (`faces.drawn_face`: four rows of print, an unframed row of eight wheels, 01088.592)
    seen as from one side: its plane turned angle_deg about the vertical through the photo's centre,
    through a camera of focal length 0.8 x the long side (`side_view_image`). PNG bytes and the reading."""
    import cv2

    from bench.ocr_real import side_view_image
    from tests.ocr_reader.faces import FACE_READING, drawn_face

    seen = side_view_image(drawn_face(seed), angle_deg)
    return cv2.imencode(".png", seen)[1].tobytes(), FACE_READING


def test_a_counter_seen_from_one_side_is_read_as_the_trapezoid_it_is(monkeypatch):
    """Cut as a rectangle, the wheels of a row seen 40 degrees from the side fall out of step with equal
    cuts (the near ones wider): `8.592`, the leading wheels lost. Cut along the side view the rows of
    print show, it reads right."""
    for seed in (5, 8):
        data, reading = _face_seen_from_side(seed, -40.0)
        bgr = decode_photo(data)
        gamma = finder.side_view(textdet.detect(bgr), bgr.shape)
        assert gamma is not None
        assert abs(np.degrees(np.arctan(gamma * finder.FOCAL_LONG_SIDES * 640)) + 40) < 5
        r = read_photo(data)
        assert r.reading == reading and not r.needs_review, (seed, r.reading, r.reason)
        monkeypatch.setattr(finder, "SIDE_VIEW", False)
        assert read_photo(data).reading != reading
        monkeypatch.setattr(finder, "SIDE_VIEW", True)


def test_rows_close_together_show_a_side_view_only_when_measured_tightly():
    """Six rows of a label within 70 pixels of one another (a tenth of the photo's height): their slopes
    against their heights give the side view when they line up, not when they scatter as much as the
    convergence itself (within SIDE_MAX_RESIDUAL, but under SIDE_SIGMAS standard errors from none)."""
    shape = (480, 640, 3)
    gamma = np.tan(np.radians(30.0)) / (finder.FOCAL_LONG_SIDES * 640)
    heights = (220.0, 234.0, 248.0, 262.0, 276.0, 290.0)

    def rows(scatter: float) -> list:
        out = []
        for k, y in enumerate(heights):
            slope = -gamma * (y - 240.0) + (scatter if k % 2 else -scatter)
            out.append(textdet.TextBox((320.0, y), (200.0, 12.0), float(np.degrees(np.arctan(slope))), 0.9))
        return out

    got = finder.side_view(rows(0.0), shape)
    assert got is not None and abs(got - gamma) < 0.02 * gamma
    assert finder.side_view(rows(0.03), shape) is None  # residual 0.03 < 0.04, but too loose for 70 px
