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


def is_red(crop_bgr: np.ndarray) -> bool:
    """True for a red (decimal) wheel: red background or red digits."""
    h, w = crop_bgr.shape[:2]
    c = crop_bgr[h // 5 : h - h // 5, w // 6 : w - w // 6].astype(np.int16)
    b, g, r = c[..., 0], c[..., 1], c[..., 2]
    red = (r - np.maximum(g, b)) > 50
    return bool(red.mean() > 0.08)


def normalise(crop_bgr: np.ndarray) -> np.ndarray:
    """Grey, contrast-stretched, dark digit on light wheel, CROP_W x CROP_H uint8."""
    small = cv2.resize(crop_bgr, (CROP_W_PX, CROP_H_PX), interpolation=cv2.INTER_AREA)
    # Min over channels keeps red digits dark and turns red wheels dark, like black ones.
    gray = small.min(axis=2) if small.ndim == 3 else small
    g = gray.astype(np.float32)
    flat = g.ravel()
    k_lo, k_hi = int(0.02 * (flat.size - 1)), int(0.98 * (flat.size - 1))
    part = np.partition(flat, (k_lo, k_hi))  # 2nd and 98th percentiles, cheaper than np.percentile
    lo, hi = float(part[k_lo]), float(part[k_hi])
    g = np.clip((g - lo) / max(hi - lo, 8.0), 0, 1)
    centre = g[CROP_H_PX // 4 : -CROP_H_PX // 4, CROP_W_PX // 5 : -CROP_W_PX // 5].ravel()
    mid = centre.size // 2
    if np.partition(centre, mid)[mid] < 0.5:  # the wheel face is most of the centre: make it light
        g = 1.0 - g
    return (g * 255).astype(np.uint8)
