"""Split a rectified counter window into wheel crops and normalise each for the recogniser."""

from __future__ import annotations

import cv2
import numpy as np

CROP_W_PX, CROP_H_PX = 24, 40  # every wheel is normalised to this size before recognition
SIDE_TRIMS = (0.04, 0.09, 0.14, 0.19)  # side frame width as a fraction of window height, tried in turn
WHEEL_COUNTS = (4, 5, 6, 7, 8)


def split(strip: np.ndarray, n_wheels: int, side_trim: float) -> list[np.ndarray]:
    """Cut the strip (frame included) into n_wheels equal crops after trimming the side frame."""
    h, w = strip.shape[:2]
    trim = int(round(side_trim * h))
    inner_w = w - 2 * trim
    if inner_w < n_wheels * 4:
        return []
    pitch = inner_w / n_wheels
    return [
        strip[:, int(round(trim + i * pitch)) : int(round(trim + (i + 1) * pitch))] for i in range(n_wheels)
    ]


RED_MARGIN = 40  # red above both green and blue, 0..255
RED_FACE_SHARE = 0.08  # share of the centre that is red: a red wheel face (or bold red digits)
RED_GLYPH_SHARE = 0.5  # share of the digit's own pixels that are red: thin red digits on a light face
GLYPH_MARGIN = 30  # redness needed of a digit pixel (faded, glared red digits are pinkish)


def is_red(crop_bgr: np.ndarray) -> bool:
    """True for a red (decimal) wheel: a red face, or red digits however thin their strokes."""
    h, w = crop_bgr.shape[:2]
    c = crop_bgr[h // 5 : h - h // 5, w // 6 : w - w // 6].astype(np.int16)
    if c.size == 0 or c.ndim != 3:
        return False
    b, g, r = c[..., 0], c[..., 1], c[..., 2]
    redness = r - np.maximum(g, b)
    if (redness > RED_MARGIN).mean() > RED_FACE_SHARE:
        return True
    # The digit's pixels: the darkest quarter in green and blue (red ink is dark there, the face is not).
    gb = np.minimum(g, b)
    glyph = gb <= np.percentile(gb, 25)
    if gb.max() - gb.min() < 40 or not glyph.any() or glyph.all():
        return False
    # Brown print on a beige face is reddish too: the digit must be clearly redder than its face.
    if float(redness[glyph].mean() - redness[~glyph].mean()) < GLYPH_MARGIN:
        return False
    return bool((redness[glyph] > GLYPH_MARGIN).mean() >= RED_GLYPH_SHARE)


RELATIVE_RED = 20  # a wheel this much redder (median) than the row's first half is a red one


def _median_redness(crop_bgr: np.ndarray) -> float:
    h, w = crop_bgr.shape[:2]
    c = crop_bgr[h // 5 : h - h // 5, w // 6 : w - w // 6].astype(np.int16)
    if c.size == 0 or c.ndim != 3:
        return 0.0
    return float(np.median(c[..., 2] - np.maximum(c[..., 0], c[..., 1])))


def red_wheels(crops_bgr: list[np.ndarray]) -> list[bool]:
    """Which wheels of a row are red: red by themselves (is_red), or clearly redder than the row's
    first half (a dim or washed-out photo keeps the red wheels' hue shift, not their saturation)."""
    if not crops_bgr:
        return []
    med = [_median_redness(c) for c in crops_bgr]
    base = float(np.median(med[: (len(med) + 1) // 2]))
    return [is_red(c) or m - base > RELATIVE_RED for c, m in zip(crops_bgr, med, strict=True)]


def normalise(crop_bgr: np.ndarray) -> np.ndarray:
    """Grey, contrast-stretched, dark digit on light wheel, CROP_W x CROP_H uint8."""
    return normalise_batch([crop_bgr])[0]


def normalise_batch(crops_bgr: list[np.ndarray]) -> np.ndarray:
    """normalise() of many crops at once (N x CROP_H x CROP_W uint8): one resize each, the rest batched."""
    grey = np.empty((len(crops_bgr), CROP_H_PX, CROP_W_PX), np.uint8)
    for i, crop in enumerate(crops_bgr):
        small = cv2.resize(crop, (CROP_W_PX, CROP_H_PX), interpolation=cv2.INTER_AREA)
        # Min over channels keeps red digits dark and turns red wheels dark, like black ones.
        grey[i] = small.min(axis=2) if small.ndim == 3 else small
    g = grey.astype(np.float32)
    flat = g.reshape(len(g), -1)
    k_lo, k_hi = int(0.02 * (flat.shape[1] - 1)), int(0.98 * (flat.shape[1] - 1))
    part = np.partition(flat, (k_lo, k_hi), axis=1)  # 2nd and 98th percentiles, cheaper than np.percentile
    lo, hi = part[:, k_lo, None, None], part[:, k_hi, None, None]
    g = np.clip((g - lo) / np.maximum(hi - lo, 8.0), 0, 1)
    centre = g[:, CROP_H_PX // 4 : -CROP_H_PX // 4, CROP_W_PX // 5 : -CROP_W_PX // 5].reshape(len(g), -1)
    mid = centre.shape[1] // 2
    dark = np.partition(centre, mid, axis=1)[:, mid] < 0.5  # the wheel face is most of the centre: light
    g[dark] = 1.0 - g[dark]
    return (g * 255).astype(np.uint8)
