"""Counter-window proposals from the learned text detector (textdet.py): rows of print, both ways up.

The detector finds every row of print (the counter, serial numbers, plates, labels, dial numerals)
at any orientation, but it does not know which is the counter nor which way is up. Each row is
proposed as a window in both directions (a photo taken upside down or sideways has no EXIF to say
so); the wheel recogniser decides (pipeline.choose_window): a counter's crops read as wheels, and
the wrong way up most digits do not.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ocr_reader import textdet
from ocr_reader.locate import MAX_ASPECT, Candidate

MAX_ROWS = 6  # rows proposed (each in two directions): the counter is among the clearest rows
MIN_ROW_ASPECT = 1.5  # long side / short side of a detected row that may hold 4 or more wheels
WINDOW_HEIGHT_GROWTH = 1.5  # a wheel window is taller than its glyphs (renders: glyphs 0.42-0.82 of it)
MERGE_MAX_GAP = 1.2  # rows this many heights apart or less along one line are one row (black | red)


def _along(a: textdet.TextBox, b: textdet.TextBox) -> bool:
    """True when b continues a's row: similar height and direction, on a's line, a small gap apart."""
    ha, hb = a.size[1], b.size[1]
    if not 0.65 <= ha / max(hb, 1e-6) <= 1.55:
        return False
    dang = abs(((a.angle_deg - b.angle_deg) + 90) % 180 - 90)
    if dang > 12 and min(a.size[0] / ha, b.size[0] / hb) > 1.5:
        return False
    t = math.radians(a.angle_deg)
    ux, uy = math.cos(t), math.sin(t)
    dx, dy = b.centre[0] - a.centre[0], b.centre[1] - a.centre[1]
    along, across = dx * ux + dy * uy, -dx * uy + dy * ux
    gap = abs(along) - (a.size[0] + b.size[0]) / 2
    return abs(across) <= 0.35 * max(ha, hb) and gap <= MERGE_MAX_GAP * max(ha, hb)


def merge_rows(boxes: list[textdet.TextBox]) -> list[textdet.TextBox]:
    """Join boxes that continue one another along a line (a counter's black and red wheels)."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if _along(a, b) or _along(b, a):
                    pts = np.concatenate([a.quad(), b.quad()])
                    (cx, cy), (w, h), ang = cv2.minAreaRect(pts)
                    if w < h:
                        w, h, ang = h, w, ang - 90
                    ang = ((ang + 90) % 180) - 90
                    boxes[j] = textdet.TextBox((cx, cy), (w, h), ang, max(a.score, b.score))
                    del boxes[i]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _directed(box: textdet.TextBox, flip: bool) -> np.ndarray:
    """The box's corners tl, tr, br, bl read along its angle, or turned half a turn."""
    w, h = box.size
    h = h * WINDOW_HEIGHT_GROWTH
    t = math.radians(box.angle_deg)
    ux, uy = math.cos(t), math.sin(t)  # along the row
    vx, vy = -uy, ux  # across it, "down" when the row reads left to right
    cx, cy = box.centre
    pts = np.array(
        [
            [cx - ux * w / 2 - vx * h / 2, cy - uy * w / 2 - vy * h / 2],
            [cx + ux * w / 2 - vx * h / 2, cy + uy * w / 2 - vy * h / 2],
            [cx + ux * w / 2 + vx * h / 2, cy + uy * w / 2 + vy * h / 2],
            [cx - ux * w / 2 + vx * h / 2, cy - uy * w / 2 + vy * h / 2],
        ],
        np.float32,
    )
    return np.roll(pts, 2, axis=0) if flip else pts


SIDEWAYS_SHARE = 0.6  # a photo whose rows of print run up and down by this share of their weight
ROW_ELONGATION = 1.5  # a row this much longer than wide says which way its print runs


def _rows_by_weight(boxes: list[textdet.TextBox]) -> list[tuple[textdet.TextBox, float]]:
    """The elongated rows (ROW_ELONGATION), each with its weight: score x area."""
    return [(b, b.score * b.size[0] * b.size[1]) for b in boxes if b.size[0] >= ROW_ELONGATION * b.size[1]]


def sideways(boxes: list[textdet.TextBox]) -> bool:
    """True when the photo's print runs up and down: a photo taken sideways, its EXIF lost or never
    written. Each row longer than wide (1.5x) weighs score x area; rows within 30 degrees of
    vertical must carry SIDEWAYS_SHARE of the weight of those within 30 degrees of either axis.

    Measured on the dev photos, upright and turned each way: the vertical share is 0 on all 39
    upright and all 39 upside-down photos, 0.99-1.0 on 74 of the 78 turned a quarter (0 on the rest:
    no elongated row there).
    """
    across = down = 0.0
    for b, weight in _rows_by_weight(boxes):
        if abs(b.angle_deg) < 30:
            across += weight
        elif abs(b.angle_deg) > 60:
            down += weight
    return down > 0 and down >= SIDEWAYS_SHARE * (across + down)


TILT_MIN_DEG = 20.0  # print running this far or more off level (short of sideways) is straightened
TILT_SPREAD_DEG = 10.0  # ...when rows within this of their weighted median angle...
TILT_SHARE = 0.6  # ...carry this share of the elongated rows' weight (as `sideways` weighs them)


def tilt_deg(boxes: list[textdet.TextBox]) -> tuple[float, tuple[float, float]] | None:
    """(angle, centre): the angle (degrees, -60..60, a row's direction as the detector gives it) by which
    the photo's print runs off level, when it plainly does (a photo taken at a slant), and where its
    slanted rows lie (their centres weighted). None when the print is level (within TILT_MIN_DEG),
    sideways (`sideways`), or has no one direction (dial numerals round a dial).

    The text detector, trained on print near level, finds rows at 30-45 degrees less often and less
    tightly (dev photos rotated 45 degrees: 21 of 39 within one, against 30 level); the rows it does
    find there still give the slant (their angles within a few degrees of it).
    """
    weighed = [(b, w) for b, w in _rows_by_weight(boxes) if abs(b.angle_deg) <= 60]
    if not weighed:
        return None
    rows = [b for b, _ in weighed]
    angles = np.array([b.angle_deg for b in rows], np.float64)
    weights = np.array([w for _, w in weighed], np.float64)
    order = np.argsort(angles)
    cum = np.cumsum(weights[order])
    median = float(angles[order][int(np.searchsorted(cum, cum[-1] / 2))])
    if abs(median) < TILT_MIN_DEG:
        return None
    near = np.abs(angles - median) <= TILT_SPREAD_DEG
    if float(weights[near].sum()) < TILT_SHARE * float(weights.sum()):
        return None
    centres = np.array([rows[i].centre for i in np.flatnonzero(near)], np.float64)
    cx, cy = np.average(centres, axis=0, weights=weights[near])
    return median, (float(cx), float(cy))


# A photo taken from one side of the meter (its face turned about the vertical): the rows of print,
# parallel on the face, converge towards the far side, and a row's glyphs shrink towards it. Seen through
# a camera, a plane turned by theta about the vertical maps a level row at height y (from the photo's
# centre) to slope -gamma * y, and scales everything at column x by (1 - gamma * x), gamma = tan(theta) /
# focal length: the rows' slopes against their heights give gamma, and each row is cut as the trapezoid
# it is (equal wheels at equal pitch once rectified). Measured on the dev photos seen from the side
# (bench.ocr_real.seen_from_side, 20-45 degrees): the estimate follows the turn to a few degrees; the
# photos as shared show their own 0-17 degrees.
SIDE_VIEW = True  # False: every text row is cut as a rectangle
SIDE_MIN_ROWS = 3  # elongated rows needed to fit the slopes to their heights
SIDE_MIN_ELONGATION = 3.0  # a row at least this much longer than high (its direction is sure)
SIDE_MAX_ANGLE_DEG = 30.0  # rows this near level (a photo held askew is levelled first: tilt_deg)
SIDE_MIN_SPREAD = 0.02  # the rows' heights spread (weighted s.d.) over this share of the photo's height
SIDE_MAX_RESIDUAL = 0.04  # slopes off the fitted line by more (weighted RMS): rows not parallel on the face
# ...and the convergence this many standard errors from none: a block of rows close together, measured
# tightly, says as much as rows far apart (a label of six rows within 4 % of the photo's height: 8.0 % as
# the least spread lost the side view of `19134.26`; 3 standard errors lost two others seen 20 degrees off)
SIDE_SIGMAS = 2.0
SIDE_MIN_DEG = 10.0  # a turn estimated under this is left alone (the photos as shared: +-4 degrees of noise)
FOCAL_LONG_SIDES = 0.8  # a phone's main camera: focal length ~0.8 of the long side (only for SIDE_MIN_DEG)
TAPER_MIN = 0.06  # a row whose ends' heights differ by less (log ratio) is cut as a rectangle


def side_view(boxes: list[textdet.TextBox], shape: tuple[int, ...]) -> float | None:
    """gamma (1/px): how fast the photo's scale falls from left to right (negative: right to left) when it
    was taken from one side of the meter; None when the rows say nothing or the turn is small.

    Fitted (weighted by score x area) to the slopes of the elongated, near-level rows against their
    heights: slope = a - gamma * (y - centre). Rows that are not parallel on the face (dial numerals,
    a sticker) leave residuals, and such a fit is not used.
    """
    rows = [
        (b, weight)
        for b, weight in _rows_by_weight(boxes)
        if b.size[0] >= SIDE_MIN_ELONGATION * b.size[1] and abs(b.angle_deg) <= SIDE_MAX_ANGLE_DEG
    ]
    if len(rows) < SIDE_MIN_ROWS:
        return None
    h, w = shape[:2]
    y = np.array([b.centre[1] - h / 2 for b, _ in rows], np.float64)
    slope = np.tan(np.radians([b.angle_deg for b, _ in rows]))
    wt = np.array([weight for _, weight in rows], np.float64)
    wt /= wt.sum()
    spread = float(np.sqrt(wt @ (y - wt @ y) ** 2))
    if spread < SIDE_MIN_SPREAD * h:
        return None
    design = np.stack([np.ones_like(y), y], axis=1)
    root = np.sqrt(wt)
    coef = np.linalg.lstsq(design * root[:, None], slope * root, rcond=None)[0]
    residual = float(np.sqrt(wt @ (slope - design @ coef) ** 2))
    if residual > SIDE_MAX_RESIDUAL:
        return None
    gamma = -float(coef[1])
    # the fitted gamma's standard error, the rows counted as their weights' effective number
    error = residual / (spread * math.sqrt(max(1.0 / float(wt @ wt) - 2.0, 1.0)))
    if abs(gamma) < SIDE_SIGMAS * error:
        return None
    if abs(math.degrees(math.atan(gamma * FOCAL_LONG_SIDES * max(h, w)))) < SIDE_MIN_DEG:
        return None
    return gamma


def tapered(quad: np.ndarray, gamma: float, width: int) -> np.ndarray:
    """A row's corners (tl, tr, br, bl) with its far end shrunk about its middle as the side view scales
    it (1 - gamma * x, x from the photo's centre): the near end keeps the row's height (the detector's
    box holds the tallest glyphs). Unchanged when the ends' scales differ by less than TAPER_MIN."""
    q = quad.astype(np.float64)
    ends = ((0, 3), (1, 2))  # (top, bottom) corners of the left and right ends
    mids = [(q[top] + q[bottom]) / 2 for top, bottom in ends]
    scale = [1.0 - gamma * (float(m[0]) - width / 2) for m in mids]
    if min(scale) <= 0.2 or abs(math.log(scale[0] / scale[1])) < TAPER_MIN:
        return quad
    out = q.copy()
    for (top, bottom), mid, sc in zip(ends, mids, scale, strict=True):
        k = sc / max(scale)
        out[top], out[bottom] = mid + (q[top] - mid) * k, mid + (q[bottom] - mid) * k
    return out.astype(np.float32)


def text_candidates(
    bgr: np.ndarray, both_ways: bool = True, boxes: list[textdet.TextBox] | None = None
) -> list[Candidate]:
    """Rows of print that may be the counter, each in both directions, clearest rows first.

    both_ways=False: only the direction closest to left-to-right (a guided frame is held upright).
    boxes: the detector's rows of this photo when already found (`textdet.detect`).
    """
    if not textdet.available():
        return []
    found = textdet.detect(bgr) if boxes is None else boxes
    gamma = side_view(found, bgr.shape) if SIDE_VIEW else None
    rows = [
        b for b in merge_rows(found) if MIN_ROW_ASPECT <= b.size[0] / max(b.size[1], 1e-6) <= MAX_ASPECT * 1.5
    ]
    rows.sort(key=lambda b: -b.score * b.size[0] * b.size[1] ** 0.5)
    area_img = float(bgr.shape[0] * bgr.shape[1])
    out = []
    for b in rows[:MAX_ROWS]:
        for flip in (False, True) if both_ways else (False,):
            quad = _directed(b, False)
            if gamma is not None and abs(b.angle_deg) <= SIDE_MAX_ANGLE_DEG:
                quad = tapered(quad, gamma, bgr.shape[1])
            if flip:
                quad = np.roll(quad, 2, axis=0)
            out.append(
                Candidate(
                    quad,
                    b.score,
                    b.size[0] / b.size[1],
                    b.size[0] * b.size[1] * WINDOW_HEIGHT_GROWTH / area_img,
                    source="text",
                )
            )
    return out
