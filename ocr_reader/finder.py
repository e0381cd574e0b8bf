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


def text_candidates(
    bgr: np.ndarray, both_ways: bool = True, boxes: list[textdet.TextBox] | None = None
) -> list[Candidate]:
    """Rows of print that may be the counter, each in both directions, clearest rows first.

    both_ways=False: only the direction closest to left-to-right (a guided frame is held upright).
    boxes: the detector's rows of this photo when already found (`textdet.detect`).
    """
    if not textdet.available():
        return []
    rows = [
        b
        for b in merge_rows(textdet.detect(bgr) if boxes is None else boxes)
        if MIN_ROW_ASPECT <= b.size[0] / max(b.size[1], 1e-6) <= MAX_ASPECT * 1.5
    ]
    rows.sort(key=lambda b: -b.score * b.size[0] * b.size[1] ** 0.5)
    area_img = float(bgr.shape[0] * bgr.shape[1])
    out = []
    for b in rows[:MAX_ROWS]:
        for flip in (False, True) if both_ways else (False,):
            quad = _directed(b, flip)
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
