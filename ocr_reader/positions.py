"""The recogniser's output classes: wheel position bins (half digits) plus a junk class."""

from __future__ import annotations

import math

import numpy as np

N_BINS = 20  # positions 0, 0.5, ... 9.5
JUNK_CLASS = N_BINS


def soft_targets(positions: np.ndarray, junk_label: float) -> np.ndarray:
    """Each position shared between its two nearest half-digit bins; junk is its own class."""
    t = np.zeros((len(positions), N_BINS + 1), np.float32)
    junk = positions == junk_label
    b = np.where(junk, 0.0, positions * 2.0)
    lo = np.floor(b).astype(np.int64) % N_BINS
    w_hi = (b - np.floor(b)).astype(np.float32)
    rows = np.arange(len(positions))
    t[rows, lo] = 1 - w_hi
    t[rows, (lo + 1) % N_BINS] += w_hi
    t[junk] = 0
    t[junk, JUNK_CLASS] = 1
    return t


def decode(probs: np.ndarray) -> tuple[float, float, float]:
    """(position, confidence, junk) from one row of probabilities (decode_batch of that row)."""
    return decode_batch(np.asarray(probs)[None])[0]


_BIN_RAD = np.float32(2 * math.pi / N_BINS)


def decode_batch(probs: np.ndarray) -> list[tuple[float, float, float]]:
    """(position, confidence, junk) of every row of an (N x classes) probability matrix.

    The position is the circular mean of the most likely half-digit bin and its two neighbours (the
    bins' angles weighted by their probabilities renormalised without junk); the confidence is those
    three bins' share.
    """
    if len(probs) == 0:
        return []
    junk = probs[:, JUNK_CLASS].astype(np.float64)
    den = np.maximum(1e-9, 1.0 - junk).astype(probs.dtype)
    q = probs[:, :N_BINS] / den[:, None]
    k = q.argmax(axis=1)
    win = (k[:, None] + np.array([-1, 0, 1])) % N_BINS
    ang = win.astype(np.float32) * _BIN_RAD
    w = np.take_along_axis(q, win, axis=1)
    ys = (w * np.sin(ang)).sum(axis=1).tolist()
    xs = (w * np.cos(ang)).sum(axis=1).tolist()
    conf = w.sum(axis=1).tolist()
    return [
        ((math.atan2(y, x) * N_BINS / (2 * math.pi) / 2.0) % 10.0, c, j)
        for y, x, c, j in zip(ys, xs, conf, junk.tolist(), strict=True)
    ]
