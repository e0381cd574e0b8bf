"""A one-hidden-layer perceptron in numpy: wheel position bins (half digits) plus a junk class."""

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


def forward(x: np.ndarray, w1, b1, w2, b2) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations and class probabilities."""
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return h, e / e.sum(axis=1, keepdims=True)


def train(x: np.ndarray, t: np.ndarray, hidden: int = 192, epochs: int = 40, seed: int = 0) -> dict:
    """Adam on cross-entropy with soft targets; returns the weights."""
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    w1 = (rng.normal(0, math.sqrt(2 / d), (d, hidden))).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = (rng.normal(0, math.sqrt(1 / hidden), (hidden, t.shape[1]))).astype(np.float32)
    b2 = np.zeros(t.shape[1], np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, lr, batch, decay = 0, 2e-3, 256, 1e-4
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        if epoch == int(epochs * 0.7):
            lr /= 5
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            xb, tb = x[idx], t[idx]
            h, p = forward(xb, *params)
            dz = (p - tb) / len(idx)
            g_w2 = h.T @ dz + decay * params[2]
            g_b2 = dz.sum(axis=0)
            dh = (dz @ params[2].T) * (h > 0)
            g_w1 = xb.T @ dh + decay * params[0]
            g_b1 = dh.sum(axis=0)
            step += 1
            for j, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                mh = m[j] / (1 - 0.9**step)
                vh = v[j] / (1 - 0.999**step)
                params[j] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return {"w1": params[0], "b1": params[1], "w2": params[2], "b2": params[3]}


def decode(probs: np.ndarray) -> tuple[float, float, float]:
    """(position, confidence, junk) from one row of probabilities."""
    junk = float(probs[JUNK_CLASS])
    q = probs[:N_BINS] / max(1e-9, 1.0 - junk)
    k = int(np.argmax(q))
    win = [(k - 1) % N_BINS, k, (k + 1) % N_BINS]
    ang = np.array(win, np.float32) * (2 * math.pi / N_BINS)
    w = q[win]
    position = (
        math.atan2(float((w * np.sin(ang)).sum()), float((w * np.cos(ang)).sum()))
        * N_BINS
        / (2 * math.pi)
        / 2.0
    ) % 10.0
    return position, float(w.sum()), junk
