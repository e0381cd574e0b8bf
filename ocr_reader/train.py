"""`python -m ocr_reader.train`: build the wheel recogniser from synthetic photos (no downloads)."""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ocr_reader import mlp
from ocr_reader.decode import decode_photo
from ocr_reader.locate import _iou, find_candidates, rectify
from ocr_reader.recognise import JUNK, MODEL_PATH
from ocr_reader.synth import render_photo
from ocr_reader.wheels import SIDE_TRIMS, WHEEL_COUNTS, features, normalise, split

TRAIN_SEED = 20240501  # the bench renders with other seeds and other fonts
PCA_DIMS = int(os.environ.get("OCR_TRAIN_PCA_DIMS", "64"))
KNN_SAMPLES = 16_000
ENSEMBLE = int(os.environ.get("OCR_TRAIN_ENSEMBLE", "5"))
HIDDEN = int(os.environ.get("OCR_TRAIN_HIDDEN", "384"))
EPOCHS = int(os.environ.get("OCR_TRAIN_EPOCHS", "24"))


def _aligned(n_true: int, trim_true: float, n: int, trim: float, i: int, width_h: float) -> int | None:
    """Index of the true wheel crop i of (n, trim) lines up with, or None when it straddles wheels."""
    inner_true = width_h - 2 * trim_true
    inner = width_h - 2 * trim
    pitch_true, pitch = inner_true / n_true, inner / n
    centre = trim + (i + 0.5) * pitch
    j = int(np.clip(round((centre - trim_true) / pitch_true - 0.5), 0, n_true - 1))
    true_centre = trim_true + (j + 0.5) * pitch_true
    if abs(centre - true_centre) < 0.12 * pitch_true and abs(pitch / pitch_true - 1) < 0.12:
        return j
    return None


def samples_from_photo(seed: int) -> tuple[list[np.ndarray], list[float]]:
    """Render one training photo and cut it the ways inference will: aligned wheels and junk."""
    rng = np.random.default_rng(seed)
    data, truth = render_photo(rng, "augmented")
    bgr = decode_photo(data)
    quad_true = np.array(truth.window_quad, np.float32)
    cands = find_candidates(bgr)
    # Learn from what the locator really returns, as long as it found the right window.
    quad = next((c.quad for c in cands[:4] if _iou(c.quad, quad_true) > 0.8), None)
    if quad is None:
        jitter = rng.normal(0, 0.015, (4, 2)) * np.linalg.norm(quad_true[3] - quad_true[0]) * 4
        quad = quad_true + jitter.astype(np.float32)
    feats, labels = [], []
    # Other outlines (serial numbers, labels, dials) cut into "wheels" teach the model what is not one.
    for c in cands[:6]:
        if _iou(c.quad, quad_true) < 0.3 and rng.random() < 0.5:
            strip = rectify(bgr, c.quad)
            for n in WHEEL_COUNTS:
                crops = split(strip, n, SIDE_TRIMS[int(rng.integers(len(SIDE_TRIMS)))])
                for crop in crops[:: max(1, len(crops) // 3)]:
                    feats.append(features(normalise(crop)))
                    labels.append(JUNK)
    # What lies just beyond the window's ends (frame, face, "m3") must not pass for a wheel either.
    h_px = 64
    pitch_px = (
        h_px
        * (
            np.linalg.norm(quad_true[1] - quad_true[0]) / np.linalg.norm(quad_true[3] - quad_true[0])
            - 2 * truth.frame_frac
        )
        / truth.n_wheels
    )
    for side in (0, 1):
        ext = [0, 0]
        ext[side] = int(round(2 * pitch_px))
        strip = rectify(bgr, quad, extend_px=(ext[0], ext[1]))
        w = strip.shape[1]
        for off in (0.0, 0.5, 1.0):
            x0 = int(round(off * pitch_px)) if side == 0 else int(round(w - (off + 1) * pitch_px))
            crop = strip[:, max(0, x0) : max(0, x0) + max(4, int(round(pitch_px)))]
            if crop.shape[1] >= 4:
                feats.append(features(normalise(crop)))
                labels.append(JUNK)
    strip = rectify(bgr, quad)
    width_h = strip.shape[1] / strip.shape[0]
    for n in WHEEL_COUNTS:
        for trim in SIDE_TRIMS:
            crops = split(strip, n, trim)
            if not crops or crops[0].shape[1] > 1.3 * crops[0].shape[0]:
                continue
            positive = n == truth.n_wheels and abs(trim - truth.frame_frac) < 0.04
            if not positive and rng.random() > 0.12:
                continue  # keep junk to about as many crops as real wheels
            for i, crop in enumerate(crops):
                j = _aligned(truth.n_wheels, truth.frame_frac, n, trim, i, width_h)
                label = JUNK if j is None else truth.positions[j] % 10.0
                feats.append(features(normalise(crop)))
                labels.append(label)
    return feats, labels


def render_samples(n_photos: int, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and position labels of every crop cut from n_photos training photos."""
    feats: list[np.ndarray] = []
    labels: list[float] = []
    seeds = [TRAIN_SEED + i for i in range(n_photos)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for f, lab in pool.map(samples_from_photo, seeds, chunksize=16):
            feats.extend(f)
            labels.extend(lab)
    return np.stack(feats).astype(np.float32), np.array(labels, np.float32)


def build(n_photos: int, out_path: str, workers: int, cache: str | None = None) -> dict:
    """Render n_photos, extract samples, fit PCA and the perceptron, save the model; return a summary."""
    t0 = time.monotonic()
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            x, y = z["x"], z["y"]
    else:
        x, y = render_samples(n_photos, workers)
        if cache:
            np.savez(cache, x=x, y=y)
    summary = fit_model(x, y, out_path)
    return {"photos": n_photos, **summary, "seconds": round(time.monotonic() - t0, 1)}


def fit_model(x: np.ndarray, y: np.ndarray, out_path: str) -> dict:
    """Fit PCA, the perceptron ensemble and the neighbour set on crop features; save the model."""
    # Keep junk at most as common as real wheels: enough to reject bad cuts, not to drown digits.
    junk_idx = np.flatnonzero(y == JUNK)
    n_pos = len(y) - len(junk_idx)
    if len(junk_idx) > n_pos:
        drop = np.random.default_rng(1).choice(junk_idx, len(junk_idx) - n_pos, replace=False)
        keep = np.setdiff1d(np.arange(len(y)), drop)
        x, y = x[keep], y[keep]
    mean = x.mean(axis=0)
    # PCA by SVD of a sample: keeps the model small and the neighbour search fast.
    sub = x[np.random.default_rng(0).choice(len(x), min(len(x), 6000), replace=False)] - mean
    _, _, vt = np.linalg.svd(sub, full_matrices=False)
    basis = vt[:PCA_DIMS].T.astype(np.float32)
    mean, basis = mean.astype(np.float16), basis.astype(np.float16)
    proj = (x - mean.astype(np.float32)) @ basis.astype(np.float32)
    scale = proj.std(axis=0) + 1e-6
    targets = mlp.soft_targets(y, JUNK)
    # A small ensemble: averaging members trained from different seeds steadies unseen fonts.
    members = [
        mlp.train(proj / scale, targets, hidden=HIDDEN, epochs=EPOCHS, seed=s) for s in range(ENSEMBLE)
    ]
    net = {k: np.stack([m[k] for m in members]) for k in ("w1", "b1", "w2", "b2")}
    # The neighbour check needs fewer samples than the perceptron's training; keeps the file < 5 MB.
    keep = np.sort(np.random.default_rng(2).choice(len(y), min(len(y), KNN_SAMPLES), replace=False))
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    np.savez_compressed(
        out_path,
        mean=mean,
        basis=basis,
        samples=proj[keep].astype(np.float16),
        positions=y[keep],
        scale=scale.astype(np.float32),
        **net,
    )
    return {"samples": len(y), "junk": int((y == JUNK).sum()), "bytes": os.path.getsize(out_path)}


CALIBRATION_SEED = 4_040_404  # training fonts, a seed neither training nor the bench uses


def calibrate(n_photos: int) -> None:
    """Print accepted share and accuracy among accepted for review thresholds (validation renders)."""
    from bench.ocr import is_correct
    from ocr_reader.api import BadImage, read_photo

    rng = np.random.default_rng(CALIBRATION_SEED)
    rows = []
    for _ in range(n_photos):
        data, truth = render_photo(rng, "train")
        try:
            r = read_photo(data)
        except BadImage:
            continue
        digits = r.reading.replace(".", "")
        ok = len(digits) == truth.n_wheels and is_correct(int(digits), truth.value_units, truth.n_wheels)
        rows.append((r.confidence, r.reason in (None, "low_confidence"), ok))
    for thr in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        acc = [ok for conf, eligible, ok in rows if eligible and conf >= thr]
        correct = np.mean(acc) if acc else 0.0
        print(f"threshold {thr:.1f}: accepted {len(acc) / n_photos:.1%}, correct {correct:.2%}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--photos", type=int, default=7200, help="synthetic training photos to render")
    ap.add_argument("--out", default=MODEL_PATH)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", help="keep rendered features in this .npz to refit without rendering")
    ap.add_argument("--calibrate", type=int, metavar="N", help="only print review-threshold trade-offs")
    args = ap.parse_args(argv)
    if args.calibrate:
        calibrate(args.calibrate)
        return 0
    print(build(args.photos, args.out, args.workers, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
