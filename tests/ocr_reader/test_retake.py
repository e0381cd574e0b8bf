"""A photo read unsurely, read again from changed views (ocr_reader.retake): when two views settle it, when
they do not, which doubts are retaken at all, and that the views' windows map back onto the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr_reader import retake
from ocr_reader.api import PhotoReading
from ocr_reader.errors import BadImage
from ocr_reader.retake import MORE_VIEWS, VIEWS, View, mapped, retaken

PHOTO = np.zeros((300, 400, 3), np.uint8)
WINDOW = np.array([[120, 130], [280, 132], [279, 170], [121, 168]], np.float32)


def _reading(reading: str, sure: bool, reason: str | None = None, window=None) -> PhotoReading:
    whole = reading.split(".")[0]
    return PhotoReading(
        reading=reading,
        value_m3=float(reading),
        confidence=0.9 if sure else 0.4,
        needs_review=not sure,
        integer_digits=len(whole),
        decimal_digits=len(reading) - len(whole) - 1 if "." in reading else 0,
        reason=None if sure else (reason or "low_confidence"),
        window=[] if window is None else [[float(x), float(y)] for x, y in window],
    )


class Views:
    """A reader of views that answers from a script, one answer per view, and remembers what it saw."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen: list[tuple[tuple[int, int], np.ndarray | None]] = []

    def __call__(self, image: np.ndarray, window):
        self.seen.append((image.shape[:2], window))
        answer = self.answers[len(self.seen) - 1]
        if isinstance(answer, Exception):
            raise answer
        # a view reads the window where the view put it (what a finder would find)
        return answer if window is None else _reading(answer.reading, not answer.needs_review, window=window)


FIRST = _reading("00291.3", sure=False, reason="window_may_continue")


def test_two_sure_views_agreeing_on_the_whole_m3_settle_it():
    # a fourth view read surely to another whole m3 is read too, and unsettles it
    read = Views(
        _reading("00291", True), _reading("00291.3", False), _reading("00291", True), _reading("1", True)
    )
    assert retaken(PHOTO, FIRST, read) is FIRST
    read = Views(
        _reading("00291", True), _reading("00291.3", False), _reading("00291", True), _reading("0029", False)
    )
    r = retaken(PHOTO, FIRST, read)
    assert not r.needs_review and r.reading == "00291" and r.views_agreeing == 2
    assert len(read.seen) == len(VIEWS)


def test_the_reading_most_views_gave_in_full_is_kept():
    read = Views(
        _reading("00291.36", True),
        _reading("00291", True),
        _reading("00291.36", True),
        _reading("00291", False),
    )
    r = retaken(PHOTO, FIRST, read)
    assert r.reading == "00291.36" and r.views_agreeing == 3


def test_one_sure_view_asks_for_more_views_and_none_asks_for_none():
    unsure = _reading("00291", False)
    read = Views(unsure, unsure, _reading("00291", True), unsure, unsure, unsure)
    assert retaken(PHOTO, FIRST, read) is FIRST
    assert len(read.seen) == len(VIEWS) + len(MORE_VIEWS)  # one sure view: two more were read
    read = Views(unsure, unsure, _reading("00291", True), unsure, _reading("00291", True), unsure)
    r = retaken(PHOTO, FIRST, read)
    assert r.reading == "00291" and r.views_agreeing == 2  # the first turned 6 degrees confirmed it
    read = Views(
        unsure, unsure, _reading("00291", True), unsure, _reading("1", True), _reading("00291", True)
    )
    assert retaken(PHOTO, FIRST, read) is FIRST  # a sure view of another whole m3 among the more
    read = Views(*[unsure] * 4)
    assert retaken(PHOTO, FIRST, read) is FIRST
    assert len(read.seen) == len(VIEWS)  # nothing sure: no more views


def test_no_view_is_begun_once_the_budget_is_spent_and_a_retake_cut_short_settles_nothing():
    sure = _reading("00291", True)
    unsure = _reading("00291", False)
    allowed = iter([True, True, False])  # two views may begin, then the budget is spent
    read = Views(sure, sure, sure, sure)
    assert retaken(PHOTO, FIRST, read, affordable=lambda: next(allowed)) is FIRST
    assert len(read.seen) == 2  # the two sure views agree, but the two not read could have vetoed
    # cut short among the more views: one sure view of four, then no budget for the two more
    allowed = iter([True] * 4 + [False])
    read = Views(unsure, unsure, sure, unsure, sure, sure)
    assert retaken(PHOTO, FIRST, read, affordable=lambda: next(allowed)) is FIRST
    assert len(read.seen) == len(VIEWS)
    # the budget asked before every view: with it never spent, the same views settle it
    read = Views(unsure, unsure, sure, unsure, sure, sure)
    asked = []
    r = retaken(PHOTO, FIRST, read, affordable=lambda: asked.append(1) or True)
    assert r.views_agreeing == 3 and len(asked) == len(read.seen) == len(VIEWS) + len(MORE_VIEWS)


def test_a_view_without_a_meter_is_passed_over():
    read = Views(
        BadImage("no_meter"), _reading("00291", True), _reading("00291", True), _reading("00291", False)
    )
    r = retaken(PHOTO, FIRST, read)
    assert r.reading == "00291" and r.views_agreeing == 2


@pytest.mark.parametrize(
    "reason",
    ["orientation_uncertain", "another_row_reads_as_wheels", "beyond_household_range", "multiple_meters"],
)
def test_doubts_about_which_row_or_way_up_are_not_retaken(reason):
    first = _reading("00291", sure=False, reason=reason)
    read = Views(*[_reading("00291", True)] * 4)
    assert retaken(PHOTO, first, read) is first and read.seen == []


def test_a_sure_first_look_is_not_retaken():
    first = _reading("00291", sure=True)
    read = Views(*[_reading("00291", True)] * 4)
    assert retaken(PHOTO, first, read) is first and read.seen == []


def test_retaken_reasons_are_review_reasons_the_reader_gives():
    from ocr_reader import pipeline

    source = open(pipeline.__file__).read()
    for reason in retake.RETAKEN_REASONS:
        assert f'"{reason}"' in source, reason


def test_a_given_window_goes_into_each_view_and_the_settled_window_comes_back():
    read = Views(*[_reading("00291", True)] * 4)
    r = retaken(PHOTO, FIRST, read, window=WINDOW)
    assert len(read.seen) == len(VIEWS)  # settled: no more views
    assert r.views_agreeing == 4
    for (shape, quad), view in zip(read.seen, VIEWS, strict=True):
        assert shape == view.size(400, 300)[::-1]
        assert np.allclose(quad, mapped(WINDOW, view.matrix(400, 300)), atol=1e-3)
        assert not np.allclose(quad, WINDOW, atol=1.0)  # each view moved it
    assert np.allclose(r.window, WINDOW, atol=0.1)  # back in the photo's pixels


@pytest.mark.parametrize("view", VIEWS + MORE_VIEWS + (View(turn_deg=-7.0, scale=0.8),))
def test_a_views_matrix_is_where_its_pixels_went(view):
    """A bright dot drawn on the photo is found in the view where View.matrix maps it."""
    img = np.zeros((300, 400, 3), np.uint8)
    for x, y in WINDOW:
        cv2.circle(img, (int(x), int(y)), 3, (255, 255, 255), -1)
    seen = view.of(img)
    assert seen.shape[:2] == view.size(400, 300)[::-1]
    for (x, y), (vx, vy) in zip(WINDOW, mapped(WINDOW, view.matrix(400, 300)), strict=True):
        patch = seen[int(vy) - 8 : int(vy) + 9, int(vx) - 8 : int(vx) + 9, 0].astype(float)
        ys, xs = np.nonzero(patch > 64)
        assert len(xs), (x, y)
        cy = (patch[ys, xs] * ys).sum() / patch[ys, xs].sum() + int(vy) - 8
        cx = (patch[ys, xs] * xs).sum() / patch[ys, xs].sum() + int(vx) - 8
        assert abs(cx - vx) < 1.5 and abs(cy - vy) < 1.5
