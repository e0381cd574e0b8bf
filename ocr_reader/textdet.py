"""Text rows in a photo from the PP-OCRv4 detection model that `rapidocr-onnxruntime` ships in its wheel.

The model (Apache-2.0, PaddleOCR) is a DB segmentation network: it gives each pixel a probability of
being inside text, at any orientation. Rows of that map are boxed as rotated rectangles; the reader
then decides which box is the counter (its wheels read as wheels). Nothing is downloaded: the
.onnx file is found inside the installed package without importing it, and run with onnxruntime
on one thread (as the faster, equivalent copy that `onnx_fuse` writes at build time, when present).
Without the package the detector is simply unavailable (`available()` is False).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ocr_reader.onnx_session import open_fused_or_original

MODEL_FILE = os.path.join("models", "ch_PP-OCRv4_det_infer.onnx")
DET_LONG_SIDE_PX = 640  # detection input; a multiple of 32 (the network downsamples 32x)
PROB_THRESHOLD = 0.3  # pixel is text
BOX_THRESHOLD = 0.5  # mean probability inside a box
UNCLIP_RATIO = 1.6  # boxes grow by area * ratio / perimeter on every side, as in PaddleOCR
MAX_BOXES = 200  # a page of text gives hundreds; the counter is never beyond the first few rows
# A small meter in a large photo: shrunk to DET_LONG_SIDE_PX, its print is a few pixels high and the
# detector misses or merges its rows. When the first look shrank the photo at least ZOOM_MIN_SHRINK times
# and the print it found lies within ZOOM_MAX_SHARE of the photo's long side (grown by ZOOM_MARGIN of
# its extent on every side), that region is looked at again, closer (docs/ocr.md round 19: the dev photos
# pasted at 30 % of a scene, 10 of 39 within one before, 22 after). False: one look.
ZOOM = True
ZOOM_MIN_SHRINK = 1.5
ZOOM_MAX_SHARE = 0.8
ZOOM_MARGIN = 0.25


@dataclass
class TextBox:
    """A text row as a rotated rectangle in photo pixels: centre, (long side, short side), angle (deg)."""

    centre: tuple[float, float]
    size: tuple[float, float]
    angle_deg: float  # direction of the long side, -90..90
    score: float

    def quad(self, grow_w: float = 1.0, grow_h: float = 1.0) -> np.ndarray:
        """Corners (tl, tr, br, bl) with the long side horizontal, grown by the given factors."""
        w, h = self.size
        pts = cv2.boxPoints((self.centre, (w * grow_w, h * grow_h), self.angle_deg)).astype(np.float32)
        return pts


def original_path() -> str | None:
    """The detection model inside the installed rapidocr-onnxruntime package, or None."""
    try:
        spec = importlib.util.find_spec("rapidocr_onnxruntime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = os.path.join(loc, MODEL_FILE)
        if os.path.exists(path):
            return path
    return None


@lru_cache(maxsize=1)
def _opened():
    return open_fused_or_original(original_path())


def _session():
    return _opened()[0]


def model_path() -> str | None:
    """The model file that runs: the rewritten copy (onnx_fuse) while it is current, else the original."""
    return _opened()[1]


def available() -> bool:
    """True when the model file and onnxruntime are installed."""
    return _session() is not None


def probability_map(bgr: np.ndarray, long_side_px: int = DET_LONG_SIDE_PX) -> tuple[np.ndarray, float]:
    """(text probability per pixel of the resized photo, scale photo -> map)."""
    sess = _session()
    if sess is None:
        raise RuntimeError("the text detector is not installed (pip install rapidocr-onnxruntime --no-deps)")
    h, w = bgr.shape[:2]
    scale = long_side_px / max(h, w)
    nh, nw = max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)
    small = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    x = (small.astype(np.float32) / 255.0 - 0.5) / 0.5
    x = x.transpose(2, 0, 1)[None]
    prob = sess.run(None, {sess.get_inputs()[0].name: x})[0][0, 0]
    return prob, (nw / w + nh / h) / 2


def detect(bgr: np.ndarray, long_side_px: int = DET_LONG_SIDE_PX) -> list[TextBox]:
    """Text rows of the photo, the most text-like first (at most MAX_BOXES).

    A large photo whose print lies in a small part of it is looked at twice: whole, then that part
    (`text_region`) at the same detector size; the second look's rows replace the first's there.
    """
    boxes = _detect_once(bgr, long_side_px)
    h, w = bgr.shape[:2]
    if not ZOOM or not boxes or max(h, w) < ZOOM_MIN_SHRINK * long_side_px:
        return boxes
    region = text_region(boxes, w, h)
    if region is None:
        return boxes
    x0, y0, x1, y1 = region
    closer = [
        TextBox((b.centre[0] + x0, b.centre[1] + y0), b.size, b.angle_deg, b.score)
        for b in _detect_once(bgr[y0:y1, x0:x1], long_side_px)
    ]
    outside = [b for b in boxes if not (x0 <= b.centre[0] < x1 and y0 <= b.centre[1] < y1)]
    out = closer + outside
    out.sort(key=lambda b: -b.score * b.size[0])
    return out[:MAX_BOXES]


def text_region(boxes: list[TextBox], width: int, height: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the square around every box, grown by ZOOM_MARGIN of their extent on each side
    and clipped to the photo, when its side is at most ZOOM_MAX_SHARE of the photo's long side; else None
    (the print fills the photo: a closer look shows nothing new)."""
    if not boxes:
        return None
    pts = np.concatenate([b.quad() for b in boxes])
    (ax, ay), (bx, by) = pts.min(axis=0), pts.max(axis=0)
    half = max(bx - ax, by - ay) * (0.5 + ZOOM_MARGIN)
    if 2 * half > ZOOM_MAX_SHARE * max(width, height):
        return None
    cx, cy = (ax + bx) / 2, (ay + by) / 2
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(width, np.ceil(cx + half))), int(min(height, np.ceil(cy + half)))
    if min(x1 - x0, y1 - y0) < 32:  # the detector's smallest input
        return None
    return x0, y0, x1, y1


def _detect_once(bgr: np.ndarray, long_side_px: int) -> list[TextBox]:
    """One look: the photo shrunk to long_side_px, its text probability boxed into rows."""
    prob, scale = probability_map(bgr, long_side_px)
    mask = cv2.dilate((prob > PROB_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[TextBox] = []
    for cnt in contours:
        if len(cnt) < 4:
            continue
        (cx, cy), (w, h), ang = cv2.minAreaRect(cnt)
        if min(w, h) < 3:
            continue
        x, y, bw, bh = cv2.boundingRect(cnt)
        region = np.zeros((bh, bw), np.uint8)
        cv2.drawContours(region, [cnt - [x, y]], -1, 1, -1)
        score = float(prob[y : y + bh, x : x + bw][region > 0].mean())
        if score < BOX_THRESHOLD:
            continue
        d = w * h * UNCLIP_RATIO / (2 * (w + h))
        w, h = w + 2 * d, h + 2 * d
        if w < h:
            w, h, ang = h, w, ang - 90
        ang = ((ang + 90) % 180) - 90
        boxes.append(TextBox((cx / scale, cy / scale), (w / scale, h / scale), ang, score))
    boxes.sort(key=lambda b: -b.score * b.size[0])
    return boxes[:MAX_BOXES]
