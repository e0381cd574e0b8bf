"""Red (decimal) wheels by colour: red faces, thin red digits, dim photos; tinted photos are not decimals."""

from __future__ import annotations

import cv2
import numpy as np

from ocr_reader.pipeline import _decimals, decimal_doubt
from ocr_reader.wheels import RedEvidence, is_red, red_evidence, red_wheels


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


# Round 5: decimal wheels that are not red themselves (docs/ocr.md).


def _in_red_panel(wheel: np.ndarray, red=(30, 40, 190), margin: int = 7) -> np.ndarray:
    """A wheel inside a red panel: red above, below and beside it, the wheel itself as the others."""
    h, w = wheel.shape[:2]
    out = np.empty((h + 2 * margin, w + 2 * margin // 2, 3), np.uint8)
    out[:] = red
    out[margin : margin + h, margin // 2 : margin // 2 + w] = wheel
    return out


def _plain(wheel: np.ndarray, frame=(25, 25, 25), margin: int = 7) -> np.ndarray:
    """The same wheel in the window's dark frame (an integer wheel)."""
    return _in_red_panel(wheel, frame, margin)


def test_black_wheels_in_a_red_panel_are_decimals():
    # Gas and water meters: five black wheels, then three black ones framed in red (m3 . litres).
    black = [_plain(_wheel((25, 25, 25), (220, 220, 220), d)) for d in (3, 0, 1, 1, 7)]
    decimals = [_in_red_panel(_wheel((25, 25, 25), (220, 220, 220), d)) for d in (1, 2, 4)]
    assert not any(is_red(c) for c in decimals)  # the wheels' own faces and digits are not red
    red = red_wheels(black + decimals)
    assert red == [False] * 5 + [True] * 3
    assert _decimals(red) == 3


def test_a_red_panel_under_a_colour_cast_still_counts():
    # A bluish photo: the panel is a dull orange-red, and every wheel is bluer than red.
    black = [_plain(_wheel((70, 45, 30), (200, 170, 150), d), frame=(60, 40, 30)) for d in range(5)]
    panel = [_in_red_panel(_wheel((70, 45, 30), (200, 170, 150), d), red=(60, 70, 105)) for d in (4, 9)]
    assert _decimals(red_wheels(black + panel)) == 2


def test_thin_red_digits_of_a_turning_wheel_are_red():
    # A white decimal wheel half way from 9 to 0: thin red strokes at the top and bottom edges only.
    def turning(ink):
        img = np.full((64, 40, 3), 235, np.uint8)
        cv2.putText(img, "9", (9, 10), cv2.FONT_HERSHEY_SIMPLEX, 1.2, ink, 1)
        cv2.putText(img, "0", (9, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, ink, 1)
        return img

    black = [turning((30, 30, 30)) for _ in range(4)]
    red = [turning((50, 50, 200)) for _ in range(2)]
    assert _decimals(red_wheels(black + red)) == 2


def test_a_tinted_row_stays_without_decimals():
    # Every wheel in the red panel (a red window frame all round): a tint, not decimals.
    row = [_in_red_panel(_wheel((25, 25, 25), (220, 220, 220), d)) for d in range(6)]
    assert _decimals(red_wheels(row)) == 0


def test_plain_black_rows_are_not_in_doubt():
    row = [_plain(_wheel((25, 25, 25), (220, 220, 220), d)) for d in range(7)]
    ev = red_evidence(row)
    assert not any(ev.red) and not any(ev.doubtful)
    assert not decimal_doubt(ev, _decimals(ev.red))


def test_the_decimal_point_is_in_doubt_when_the_colours_do_not_settle_it():
    # A red wheel left out of the decimal run: the last decimal's colour was missed (or red print).
    assert decimal_doubt(RedEvidence([False] * 5 + [True, False], [False] * 7), 0)
    # Colour part way to red on one of the last four wheels.
    assert decimal_doubt(RedEvidence([False] * 5 + [True, True], [False] * 4 + [True, False, False]), 2)
    # Settled: a clean trailing run; no red at all; every wheel red (a tinted photo).
    assert not decimal_doubt(RedEvidence([False] * 5 + [True, True], [False] * 7), 2)
    assert not decimal_doubt(RedEvidence([False] * 6, [False] * 6), 0)
    assert not decimal_doubt(RedEvidence([True] * 6, [False] * 6), 0)
    # Doubt far from the end (the first half holds no decimals) does not count.
    assert not decimal_doubt(RedEvidence([False] * 8, [True] + [False] * 7), 0)


def _evidence(redness: list[float], red: list[bool], doubtful: list[bool]) -> RedEvidence:
    return RedEvidence(red, doubtful, redness)


def test_a_wheel_part_way_to_red_is_judged_against_the_rows_own_wheels():
    """A dev photo (04752.735): the black wheel beside the red run at 11 (centre redness against the row's
    first half), the black wheels at -10..6, the red ones at 39..81: plainly black, so the point stands."""
    red = [False] * 5 + [True] * 3
    doubtful = [False] * 4 + [True, False, False, False]
    ev = _evidence([-10, -4, 4, 6, 11, 81.5, 64, 39], red, doubtful)
    assert not decimal_doubt(ev, 3)
    # ...half way between the two, it stays in doubt
    assert decimal_doubt(_evidence([-10, -4, 4, 6, 22, 81.5, 64, 39], red, doubtful), 3)
    # a faded red wheel counted among the decimals, plainly on the red side (01340.077: 3 / 14 / 19)
    ev = _evidence(
        [-1, 3, -2, 1, 2, 23, 14, 19], [False] * 5 + [True, False, True], [False] * 6 + [True, False]
    )
    assert _decimals(ev.red) == 3 and not decimal_doubt(ev, 3)
    # ...but as black as the black wheels while counted a decimal: in doubt
    ev = _evidence(
        [-1, 3, -2, 1, 2, 23, 2, 19], [False] * 5 + [True, False, True], [False] * 6 + [True, False]
    )
    assert decimal_doubt(ev, 3)


def test_without_a_clear_gap_between_black_and_red_the_doubt_stands():
    red = [False] * 5 + [True] * 2
    doubtful = [False] * 4 + [True, False, False]
    # the red wheels barely redder than the black ones (a dim photo): no measure to judge by
    assert decimal_doubt(_evidence([0, 2, 1, 3, 4, 12, 14], red, doubtful), 2)
    # no sure black wheel, or no sure red one, to compare with
    assert decimal_doubt(_evidence([0, 2, 1, 3, 4, 60, 70], red, [True] * 5 + [False, False]), 2)
    assert decimal_doubt(_evidence([0, 2, 1, 3, 4, 60, 70], red, doubtful[:5] + [True, True]), 2)
    # no decimals at all: a wheel part way to red may be the only decimal
    assert decimal_doubt(_evidence([0, 2, 1, 3, 4, 5, 12], [False] * 7, [False] * 6 + [True]), 0)
    # evidence without the measures (as built by hand elsewhere): as before
    assert decimal_doubt(RedEvidence(red, doubtful), 2)


def test_a_red_panel_half_way_to_red_goes_to_review():
    black = [_plain(_wheel((25, 25, 25), (220, 220, 220), d)) for d in range(5)]
    # A pale panel (glare): redder than the black wheels' frames, not clearly red.
    pale = [_in_red_panel(_wheel((25, 25, 25), (220, 220, 220), d), red=(70, 70, 100)) for d in (2, 4)]
    ev = red_evidence(black + pale)
    assert decimal_doubt(ev, _decimals(ev.red))


def test_photos_of_decimals_in_a_red_panel_never_read_a_silent_wrong_point():
    from ocr_reader.api import BadImage, read_photo
    from ocr_reader.synth import PhotoParams, render_photo

    rng = np.random.default_rng(2024_05)
    params = PhotoParams(red_panel_prob=1.0)
    photos = []
    while len(photos) < 10:
        data, truth = render_photo(rng, "heldout", params)
        if truth.n_red:
            photos.append((data, truth))
    right_point = 0
    for data, truth in photos:
        try:
            r = read_photo(data)
        except BadImage:
            continue
        # the point is where the red wheels start, whether their digits were read or left out (whole m3)
        point = r.decimal_digits + r.decimals_dropped
        right_point += point == truth.n_red
        # A wrong decimal point is a 10-1000x wrong bill: it must go to review.
        assert r.needs_review or point == truth.n_red, (r.reading, truth.reading)
    assert right_point >= 7


def test_a_decimal_run_whose_first_wheel_is_only_just_red_leaves_the_point_in_doubt(monkeypatch):
    # Round 13: a dev photo re-encoded (JPEG 92) moved its decimal point one wheel left, accepted: the
    # black wheel before the red ones gained a few red pixels (3-4 % of its middle columns, the red ink
    # mark is 3 %) and joined the decimal run. A run whose first wheel is only just red is now in doubt.
    from ocr_reader import pipeline

    rng = np.random.default_rng(3)
    black = [_wheel((235, 235, 235), (20, 20, 20), d) for d in (0, 6, 3, 4, 5)]
    specked = black[-1].copy()
    cols = slice(specked.shape[1] // 6, specked.shape[1] - specked.shape[1] // 6)  # the middle columns
    mid = specked[:, cols].copy()
    flat = mid.reshape(-1, 3)  # a view of the copy
    flat[rng.choice(len(flat), int(0.036 * len(flat)), replace=False)] = (40, 40, 210)
    specked[:, cols] = mid
    red = [_wheel((30, 30, 200), (255, 255, 255), d) for d in (2, 0)]
    row = black[:-1] + [specked] + red
    assert not is_red(specked)
    # (Since round 16 red ink alone before a red-faced wheel is no red wheel at all: see the test below.)
    from ocr_reader import wheels

    monkeypatch.setattr(wheels, "INK_BESIDE_RED_FACES", False)
    ev = red_evidence(row)
    assert ev.red == [False] * 4 + [True] * 3  # red by its specks alone
    assert ev.marginal == [False] * 4 + [True, False, False] and not any(ev.doubtful)
    assert _decimals(ev.red) == 3 and decimal_doubt(ev, 3)  # the point waits for a person
    monkeypatch.setattr(pipeline, "MARGINAL_DOUBT", False)  # as before: silently one wheel off
    assert not decimal_doubt(ev, 3)
    monkeypatch.undo()
    ev = red_evidence(row)  # round 16: in doubt, and placed before the point by its white face
    assert ev.red == [False] * 5 + [True] * 2 and ev.doubtful[4] and not decimal_doubt(ev, 2)
    # The same specks on a wheel inside the run (its first wheel plainly red) move no point.
    inside = black[:-1] + [red[0], specked, red[1]]
    ev = red_evidence(inside)
    assert ev.red == [False] * 4 + [True] * 3 and ev.marginal[5] and not decimal_doubt(ev, 3)
    # Plainly red by the same measure (over RED_SURE times the mark): not marginal.
    flat[rng.choice(len(flat), int(0.04 * len(flat)), replace=False)] = (40, 40, 210)
    specked[:, cols] = mid
    assert not red_evidence(black[:-1] + [specked] + red).marginal[4]


def _rust_spotted(wheel: np.ndarray, share: float) -> np.ndarray:
    """The wheel with a red-brown spot on share of its middle columns (a rust mark, a red divider's edge)."""
    out = wheel.copy()
    h, w = out.shape[:2]
    cols = w - 2 * (w // 6)
    rows = max(1, int(round(share * h)))
    out[h - rows :, w // 6 : w // 6 + cols] = (30, 40, 190)
    return out


def test_red_ink_alone_beside_red_faced_decimals_does_not_move_the_point(monkeypatch):
    """A dev photo rotated 3 degrees (063457.20 read 06345.720): the last black wheel had red on 6 % of
    its middle columns, the red-faced decimals 74 %. Beside red faces, red ink alone is no red wheel:
    the wheel is left in doubt, and its black face puts it before the point."""
    from ocr_reader import wheels

    black = [_wheel((25, 25, 25), (220, 220, 220), d) for d in (0, 6, 3, 4, 5)]
    spotted = _rust_spotted(_wheel((25, 25, 25), (220, 220, 220), 7), 0.08)
    reds = [_wheel((30, 30, 200), (255, 255, 255), d) for d in (2, 0)]
    row = black + [spotted] + reds
    ev = red_evidence(row)
    assert ev.red == [False] * 6 + [True, True]
    assert ev.doubtful[5]
    assert _decimals(ev.red) == 2
    assert not decimal_doubt(ev, 2)  # plainly black by its face against the row's own red and black
    monkeypatch.setattr(wheels, "INK_BESIDE_RED_FACES", False)  # as before: one wheel too many decimals
    assert _decimals(red_evidence(row).red) == 3


def test_red_ink_alone_still_marks_thin_red_digits_without_red_faces():
    # Without red-faced wheels in the row, red ink is how thin red digits are told (unchanged).
    black = [_wheel((235, 235, 235), (20, 20, 20), d) for d in range(5)]
    spotted = _rust_spotted(_wheel((235, 235, 235), (20, 20, 20), 7), 0.08)
    ev = red_evidence(black + [spotted])
    assert ev.red[-1] and not ev.doubtful[-1]


def _faded(ink, seed: int) -> np.ndarray:
    """A white wheel with a thin digit in the given ink, anti-aliased, with a photo's pixel noise."""
    img = np.full((64, 40, 3), 225, np.uint8)
    cv2.putText(img, "7", (6, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.4, ink, 2, cv2.LINE_AA)
    noise = np.random.default_rng(seed).normal(0, 3, img.shape).round().astype(np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def test_thin_faded_red_digits_on_a_white_wheel_are_red(monkeypatch):
    """A water meter's thin red digits, faded pink (25 redder than the white face, a dev photo's
    `01340.077`), are red by their own colour; black digits on the same face are not."""
    import ocr_reader.wheels as wheels

    faded = (110, 105, 140)  # BGR: red 25-30 above green and blue
    assert all(is_red(_faded(faded, s)) for s in range(3))
    assert not any(is_red(_faded((60, 60, 60), s)) for s in range(3))
    assert not any(is_red(_faded((90, 95, 100), s)) for s in range(3))  # grey-brown print
    monkeypatch.setattr(wheels, "LIGHT_FACE_GLYPH_MARGIN", 30)  # the dark faces' margin misses them
    assert not any(is_red(_faded(faded, s)) for s in range(3))
