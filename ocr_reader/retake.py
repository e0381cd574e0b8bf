"""A photo read unsurely, read again from slightly changed views of it: a few degrees turned, a tenth
smaller and larger, as a resident's second shot would be (two more, turned 6 degrees, when one view alone
was sure). Two views read surely and agreeing on the whole m3 settle the reading; any view read surely to
another whole m3 leaves it in review.

One look at a real photo sits near many thresholds at once (a wheel's score, the window's ends, a rolling
wheel's band); a JPEG re-encode flips 7 of the 39 dev photos' review decisions, a 3-degree turn 11 to 13
(docs/ocr.md, round 21). The views are independent looks at the same counter: the wheels are cut anew,
the window found anew. Only doubts about *reading* the counter are retaken; a doubt about *which* row is
the counter or which way up it is (another_row_reads_as_wheels, orientation_uncertain) is the same
doubt in every view, and a view that settles it settles it by chance.

The views' work is bounded: no view is begun once the photo's reading (first look included) has read
CROP_BUDGET wheel crops, and a retake cut short settles nothing (a view not read could have read
another whole m3). One look reads at most a few thousand crops, so a photo at most CROP_BUDGET plus one
look's, whatever the photo: without the bound, an image made to be read unsurely costs seven looks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ocr_reader.errors import BadImage
from ocr_reader.locate import unlevelled
from ocr_reader.scoring import integer_digits

if TYPE_CHECKING:
    from ocr_reader.api import PhotoReading

# Review reasons about how surely the counter was read, which another look can settle.
RETAKEN_REASONS = frozenset(
    {
        "low_confidence",
        "window_may_continue",
        "rolling_wheel_unsure",
        "wheels_disagree_with_carry",
        "decimal_point_uncertain",
        "window_not_outlined",
        "wheel_count_uncertain",
    }
)
AGREEING_VIEWS = 2  # views read surely to the same whole m3 that settle a reading
# Wheel crops read for one photo past which no view is begun. The dev photos and 11 changed copies of them
# (468 readings) read at most 3,501 in one look and 15,418 in all; 12,000 cuts short 6 retakes, 2 of
# which had settled (docs/ocr.md, round 22).
CROP_BUDGET = 12_000


@dataclass(frozen=True)
class View:
    """A changed view of the photo: turned by turn_deg (counterclockwise) about its centre and scaled."""

    turn_deg: float = 0.0
    scale: float = 1.0

    def matrix(self, width: int, height: int) -> np.ndarray:
        """2 x 3 affine map from the photo's pixels to the view's."""
        m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), self.turn_deg, 1.0)
        return m * self.scale

    def size(self, width: int, height: int) -> tuple[int, int]:
        return max(round(width * self.scale), 1), max(round(height * self.scale), 1)

    def of(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        size = self.size(w, h)
        if self.turn_deg == 0.0:
            inter = cv2.INTER_AREA if self.scale < 1.0 else cv2.INTER_LINEAR
            return cv2.resize(bgr, size, interpolation=inter)
        return cv2.warpAffine(
            bgr, self.matrix(w, h), size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


VIEWS = (View(turn_deg=3.0), View(turn_deg=-3.0), View(scale=0.9), View(scale=1.1))
# Read when exactly one of VIEWS was sure: the photo is readable, one more sure view may confirm it.
MORE_VIEWS = (View(turn_deg=6.0), View(turn_deg=-6.0))

# read(view_bgr, window_in_view_px or None) -> the reading of that view
Reader = Callable[[np.ndarray, "np.ndarray | None"], "PhotoReading"]


def mapped(points, m: np.ndarray) -> np.ndarray:
    """Points (n x 2) through a 2 x 3 affine map."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return p @ m[:, :2].T + m[:, 2]


def _sure_views(
    bgr: np.ndarray,
    read: Reader,
    window: np.ndarray | None,
    views: tuple[View, ...],
    affordable: Callable[[], bool],
) -> list[tuple[PhotoReading, np.ndarray]] | None:
    """The views read surely, each with its map from the photo; None when the budget ran out first."""
    h, w = bgr.shape[:2]
    sure: list[tuple[PhotoReading, np.ndarray]] = []
    for view in views:
        if not affordable():
            return None
        m = view.matrix(w, h)
        quad = None if window is None else mapped(window, m).astype(np.float32)
        try:
            r = read(view.of(bgr), quad)
        except BadImage:
            continue
        if not r.needs_review:
            sure.append((r, m))
    return sure


def retaken(
    bgr: np.ndarray,
    first: PhotoReading,
    read: Reader,
    window: np.ndarray | None = None,
    views: tuple[View, ...] = VIEWS,
    more_views: tuple[View, ...] = MORE_VIEWS,
    affordable: Callable[[], bool] = lambda: True,
) -> PhotoReading:
    """The reading of a photo whose first look left it in review for a retaken reason, settled by views
    that read it surely and agree on its whole m3; otherwise `first` as it is.

    Every one of `views` is read; when exactly one was sure, every one of `more_views` too. window: the
    corners the first look was given (guided capture, a reference), carried into each view. The settled
    reading is the view reading most views gave in full (then the surest), its window given back in the
    photo's pixels and `views_agreeing` set. affordable() is asked before each view; once it says no,
    `first` is returned as it is (the caller's bound on work, e.g. crops read below CROP_BUDGET).
    """
    if not first.needs_review or first.reason not in RETAKEN_REASONS:
        return first
    sure = _sure_views(bgr, read, window, views, affordable)
    if sure is not None and 0 < len(sure) < AGREEING_VIEWS:
        more = _sure_views(bgr, read, window, more_views, affordable)
        sure = None if more is None else sure + more
    if sure is None or len(sure) < AGREEING_VIEWS:
        return first
    wholes = {integer_digits(r.reading, r.integer_digits) for r, _ in sure}
    if len(wholes) != 1:
        return first
    full = Counter(r.reading for r, _ in sure)
    best, m = max(sure, key=lambda rm: (full[rm[0].reading], rm[0].confidence))
    best.window = [[round(x, 1), round(y, 1)] for x, y in unlevelled(best.window, m)]
    best.views_agreeing = len(sure)
    return best
