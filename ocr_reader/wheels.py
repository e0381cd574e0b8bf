"""Split a rectified counter window into wheel crops and turn each into a feature vector."""

from __future__ import annotations

import cv2
import numpy as np

CROP_W_PX, CROP_H_PX = 24, 40  # every wheel is normalised to this size before recognition
SIDE_TRIMS = (0.04, 0.09, 0.14, 0.19)  # side frame width as a fraction of window height, tried in turn
WHEEL_COUNTS = (4, 5, 6, 7, 8)

CELL_PX = 4
N_BINS = 9


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


def hog(norm: np.ndarray) -> np.ndarray:
    """Histogram of oriented gradients: 4 px cells, 9 unsigned bins, 2x2-cell block normalisation.

    Written out with numpy because OpenCV 5 dropped HOGDescriptor from the main wheel.
    """
    img = norm.astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = (np.arctan2(gy, gx) % np.pi) * (N_BINS / np.pi)
    lo = np.floor(ang).astype(np.int32) % N_BINS
    hi = (lo + 1) % N_BINS
    w_hi = ang - np.floor(ang)
    cy, cx = CROP_H_PX // CELL_PX, CROP_W_PX // CELL_PX
    cell = (np.arange(CROP_H_PX)[:, None] // CELL_PX) * cx + (np.arange(CROP_W_PX)[None, :] // CELL_PX)
    size = cy * cx * N_BINS
    bins = np.concatenate([(cell * N_BINS + lo).ravel(), (cell * N_BINS + hi).ravel()])
    weights = np.concatenate([(mag * (1 - w_hi)).ravel(), (mag * w_hi).ravel()])
    hist = np.bincount(bins, weights=weights, minlength=size).astype(np.float32)
    h = hist.reshape(cy, cx, N_BINS)
    blocks = np.concatenate([h[:-1, :-1], h[1:, :-1], h[:-1, 1:], h[1:, 1:]], axis=2)
    blocks /= np.sqrt((blocks * blocks).sum(axis=2, keepdims=True)) + 1e-3
    return np.minimum(blocks, 0.2).ravel()


def features(norm: np.ndarray) -> np.ndarray:
    """HOG of a normalised crop plus a coarse copy of its pixels (keeps the vertical offset)."""
    hog_v = hog(norm)
    coarse = cv2.resize(norm, (8, 14), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() / 255.0
    return np.concatenate([hog_v, 0.5 * coarse]).astype(np.float32)
