"""`python -m ocr_reader.train`: build the wheel recogniser from synthetic photos (no downloads)."""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import cv2
import numpy as np
from tqdm import tqdm

from ocr_reader import cnn
from ocr_reader.decode import decode_photo
from ocr_reader.locate import Candidate, _iou, find_candidates, overlaps, rectify
from ocr_reader.recognise import JUNK, MODEL_PATH
from ocr_reader.synth import FONT_SETS, TRAIN_FONT_PACKAGES, available_fonts, render_photo
from ocr_reader.wheels import SIDE_TRIMS, WHEEL_COUNTS, normalise, split

TRAIN_SEED = 20240501  # the bench renders with other seeds and other fonts
N_PHOTOS = 12000
FONT_SET = "wide"  # 94 faces of 40 families, none of the held-out ones (synth.FONT_SETS)
CNN_EPOCHS = 3
N_JITTER = 2  # moved copies of every aligned wheel per photo
JITTER_X, JITTER_Y, JITTER_SCALE = 0.07, 0.04, 0.08  # crop-box jitter, shares of pitch and height


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


def _jittered(strip: np.ndarray, x0: float, x1: float, rng: np.random.Generator) -> np.ndarray:
    """The wheel box [x0, x1) moved and resized a little: a locator or splitter a few pixels off."""
    h = strip.shape[0]
    pitch = x1 - x0
    pad = int(round(0.5 * pitch)) + 4
    padded = cv2.copyMakeBorder(strip, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    cx = (x0 + x1) / 2 + rng.uniform(-JITTER_X, JITTER_X) * pitch
    half_w = pitch / 2 * rng.uniform(1 - JITTER_SCALE, 1 + JITTER_SCALE)
    cy = h / 2 + rng.uniform(-JITTER_Y, JITTER_Y) * h
    half_h = h / 2 * rng.uniform(1 - JITTER_SCALE, 1 + JITTER_SCALE / 2)
    xa, xb = int(round(cx - half_w)) + pad, int(round(cx + half_w)) + pad
    ya, yb = int(round(cy - half_h)) + pad, int(round(cy + half_h)) + pad
    return padded[max(0, ya) : yb, max(0, xa) : max(xa + 4, xb)]


def samples_from_photo(
    seed: int, font_set: str = FONT_SET, n_jitter: int = N_JITTER, hard: bool = False
) -> tuple[list[np.ndarray], list[float]]:
    """Render one training photo and cut it the ways inference will: aligned wheels and junk.

    Returns normalised crops (CROP_H x CROP_W uint8); `n_jitter` extra copies of every aligned wheel
    are cut from slightly moved boxes.
    """
    rng = np.random.default_rng(seed)
    jitter_rng = np.random.default_rng([seed, 1])  # its own stream: jitter leaves the rest unchanged
    data, truth = render_photo(rng, font_set)
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
                    feats.append(normalise(crop))
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
                feats.append(normalise(crop))
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
                feats.append(normalise(crop))
                labels.append(label)
                if positive and j is not None:
                    h_px = strip.shape[0]
                    pitch = (strip.shape[1] - 2 * int(round(trim * h_px))) / n
                    x0 = int(round(trim * h_px)) + i * pitch
                    for _ in range(n_jitter):
                        feats.append(normalise(_jittered(strip, x0, x0 + pitch, jitter_rng)))
                        labels.append(label)
    if hard:
        h_feats, h_labels = hard_negatives(bgr, quad_true, truth.positions, rng)
        feats += h_feats
        labels += h_labels
    return feats, labels


def turned_is_junk(position: float) -> bool:
    """True when a wheel at this position, turned upside down, shows no digit (2, 3, 4, 5 or 7 visible)."""
    frac = position % 1.0
    shown = [int(np.floor(position)) % 10] if frac < 0.2 else []
    shown += [int(np.ceil(position)) % 10] if frac > 0.8 else []
    if not shown:
        shown = [int(np.floor(position)) % 10, int(np.ceil(position)) % 10]
    return any(d in (2, 3, 4, 5, 7) for d in shown)


def hard_negatives(
    bgr: np.ndarray, quad_true: np.ndarray, positions: list[float], rng: np.random.Generator
) -> tuple[list[np.ndarray], list[float]]:
    """Junk that fools the current model where inference will meet it.

    Other rows of print the text detector proposes (serial numbers, labels), cut the way the
    current model likes best; and the counter itself upside down (no EXIF), where the turned wheel
    shows no digit.
    """
    from ocr_reader.finder import text_candidates
    from ocr_reader.pipeline import best_layout, prescreen

    feats: list[np.ndarray] = []
    labels: list[float] = []
    true_c = Candidate(quad_true, 1.0, 0.0, 0.0)
    others = [c for c in text_candidates(bgr) if _iou(c.quad, quad_true) < 0.05 and not overlaps(c, true_c)]
    for c in prescreen(bgr, others, keep=3):  # the rows (either way up) that look most like wheels
        lay = best_layout(bgr, c)
        if lay is not None and lay.fit >= 0.2:
            feats += [normalise(crop) for crop in lay.crops]
            labels += [JUNK] * len(lay.crops)
    n = len(positions)
    turned = rectify(bgr, np.roll(quad_true, 2, axis=0))
    for i, crop in enumerate(split(turned, n, 0.09)):
        if turned_is_junk(positions[n - 1 - i]) and rng.random() < 0.5:
            feats.append(normalise(crop))
            labels.append(JUNK)
    return feats, labels


def render_samples(
    n_photos: int,
    workers: int,
    seed0: int = TRAIN_SEED,
    font_set: str = FONT_SET,
    jitter: int = N_JITTER,
    hard: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised crops (N x CROP_H x CROP_W uint8) and position labels from n_photos photos."""
    crops: list[np.ndarray] = []
    labels: list[float] = []
    seeds = [seed0 + i for i in range(n_photos)]
    work = partial(samples_from_photo, font_set=font_set, n_jitter=jitter, hard=hard)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        rendered = pool.map(work, seeds, chunksize=16)
        for c, lab in tqdm(rendered, total=n_photos, desc="render photos", unit="photo", mininterval=5):
            crops.extend(c)
            labels.extend(lab)
    return np.stack(crops).astype(np.uint8), np.array(labels, np.float32)


def save(params: dict, out_path: str) -> None:
    """Weights as .npz (float16: a third of the size, probabilities move < 1e-3) and the same as .onnx."""
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    np.savez_compressed(out_path, **{k: v.astype(np.float16) for k, v in params.items()})
    stored = cnn.load(out_path)  # the ONNX graph carries exactly the weights the .npz holds
    with open(os.path.splitext(out_path)[0] + ".onnx", "wb") as f:
        f.write(cnn.to_onnx(stored))


def balance_junk(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep junk at most as common as real wheels: enough to reject bad cuts, not to drown digits."""
    junk_idx = np.flatnonzero(y == JUNK)
    n_pos = len(y) - len(junk_idx)
    if len(junk_idx) <= n_pos:
        return x, y
    drop = np.random.default_rng(1).choice(junk_idx, len(junk_idx) - n_pos, replace=False)
    keep = np.setdiff1d(np.arange(len(y)), drop)
    return x[keep], y[keep]


def build(
    n_photos: int, out_path: str, workers: int, cache: str | None = None, epochs: int = CNN_EPOCHS
) -> dict:
    """Render n_photos, cut and normalise their crops, train the CNN with jax, save it; a summary."""
    missing = set(FONT_SETS[FONT_SET]) - set(available_fonts(FONT_SET))
    if missing:  # a model trained on fewer faces would differ silently: refuse instead
        raise SystemExit(
            f"training fonts missing: {sorted(missing)}; "
            f"install: apt-get install {' '.join(TRAIN_FONT_PACKAGES)}"
        )
    from ocr_reader import cnn_train  # jax: only the `train` extra installs it

    t0 = time.monotonic()
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            x, y = z["x"], z["y"]
    else:
        x, y = render_samples(n_photos, workers)
        if cache:
            np.savez(cache, x=x, y=y)
    t_render = time.monotonic() - t0
    x, y = balance_junk(x, y)
    params = cnn_train.fit(cnn.prepare(x), y, JUNK, epochs=epochs, seed=0)
    # Half precision on disk: a third of the size, and the probabilities move by < 1e-3.
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    save(params, out_path)
    return {
        "photos": n_photos,
        "samples": len(y),
        "junk": int((y == JUNK).sum()),
        "bytes": os.path.getsize(out_path),
        "render_s": round(t_render, 1),
        "seconds": round(time.monotonic() - t0, 1),
    }


REAL_COPIES = 6  # each real training crop is seen this many times per epoch (augmented differently)
REAL_JUNK = 20_000  # straddling cuts of real wheels (real_crops.straddling), labelled junk
FINETUNE_PHOTOS = 2500  # renders mixed in while fine-tuning, so render styles are not forgotten
FINETUNE_EPOCHS = 3
REAL_ROWS = (
    6000  # counter rows laid out of real wheels (real_crops.composite_rows), sliced as the reader does
)
FINETUNE_LR = 6e-4


def finetune_real(
    init_path: str,
    out_path: str,
    workers: int,
    n_photos: int = FINETUNE_PHOTOS,
    epochs: int = FINETUNE_EPOCHS,
    cache: str | None = None,
    photo_rows: int = 0,
    lr_peak: float = FINETUNE_LR,
    seed: int = 1,
) -> dict:
    """Fine-tune a render-trained CNN on real wheel crops of the training makers, plus renders.

    Real crops: haverland's collection (real_crops.py, Apache-2.0) without the held-out makers, which
    validate the result (printed per epoch) and calibrate the review threshold. photo_rows: that many
    more rows of real wheels as a phone photo and the locator show them (composite_rows(photo=True)).
    """
    from ocr_reader import cnn_train, real_crops  # jax: only the `train` extra installs it

    t0 = time.monotonic()
    train = real_crops.load(held_out=False)
    val = real_crops.load(held_out=True)
    junk = real_crops.straddling(train.raw, train.maker, REAL_JUNK, seed=7)
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            xr, yr = z["x"], z["y"]
    else:
        os.environ["OCR_WHEEL_MODEL"] = init_path  # hard negatives are mined with the model being tuned
        xr, yr = render_samples(n_photos, workers, seed0=TRAIN_SEED + 500_000, hard=True)
        if cache:
            np.savez(cache, x=xr, y=yr)
    xr, yr = balance_junk(xr, yr)
    turned = np.array([turned_is_junk(float(p)) for p in train.y])
    junk = np.concatenate([junk, train.x[turned][:, ::-1, ::-1]])  # real wheels upside down
    xc, yc = real_crops.composite_rows(train.raw, train.y, train.maker, REAL_ROWS, seed=11)
    if photo_rows:
        xp, yp = real_crops.composite_rows(train.raw, train.y, train.maker, photo_rows, seed=13, photo=True)
        xc, yc = np.concatenate([xc, xp]), np.concatenate([yc, yp])
    x = np.concatenate([xr, np.repeat(train.x, REAL_COPIES, axis=0), junk, xc])
    y = np.concatenate([yr, np.repeat(train.y, REAL_COPIES), np.full(len(junk), JUNK, np.float32), yc])
    print(
        f"fine-tune: {len(yr)} render crops, {len(train.y)} real crops x {REAL_COPIES}, "
        f"{len(junk)} real junk, {len(yc)} crops of rows of real wheels ({photo_rows} rows as photos); "
        f"validating on {len(val.y)} crops of held-out makers"
    )
    params = cnn_train.fit(
        cnn.prepare(x),
        y,
        JUNK,
        epochs=epochs,
        seed=seed,
        val=(cnn.prepare(val.x), val.y),
        init=cnn.load(init_path),
        lr_peak=lr_peak,
    )
    save(params, out_path)
    return {"samples": len(y), "real": len(train.y), "seconds": round(time.monotonic() - t0, 1)}


ROW_RENDERS = 40_000  # rendered rows (wide fonts) for the row reader
ROW_REAL = 40_000  # rows laid out of real wheels of the training makes
ROW_EPOCHS = 3
ROW_MODEL_PATH = os.path.join(os.path.dirname(MODEL_PATH), "rows_crnn.onnx")


def build_rows(
    out_path: str = ROW_MODEL_PATH,
    epochs: int = ROW_EPOCHS,
    cache: str | None = None,
    n_renders: int = ROW_RENDERS,
    n_real: int = ROW_REAL,
) -> dict:
    """Train the row reader on rendered rows and rows of real wheels; the held-out makes validate it."""
    from ocr_reader import real_crops, row_data
    from ocr_reader import rowread_train as rt  # jax, optax: only the `train` extra installs them

    t0 = time.monotonic()
    val_real = real_crops.load(held_out=True)
    val = rt.to_arrays(
        row_data.real_rows(val_real.raw, val_real.y, val_real.maker, 1000, seed=17)
        + row_data.rendered_rows(500, seed=19, font_set="heldout")
    )
    if cache and os.path.exists(cache):
        with np.load(cache) as z:
            data = {int(k[1:]): (z[k], z["c" + k[1:]], z["l" + k[1:]]) for k in z.files if k.startswith("x")}
    else:
        train = real_crops.load(held_out=False)
        rows = row_data.rendered_rows(n_renders, seed=TRAIN_SEED + 900_000)
        rows += row_data.real_rows(train.raw, train.y, train.maker, n_real, seed=13)
        data = rt.to_arrays(rows)
        del rows
        if cache:
            np.savez(
                cache, **{f"{p}{w}": a for w, arrs in data.items() for p, a in zip("xcl", arrs, strict=True)}
            )
    print(
        f"row reader: {sum(len(v[0]) for v in data.values())} rows; "
        f"validating on rows of {len(val_real.y)} held-out crops"
    )
    params = rt.fit(data, epochs, seed=3, val=val)
    with open(out_path, "wb") as f:
        f.write(rt.to_onnx(params))
    return {"seconds": round(time.monotonic() - t0, 1), "val": rt.evaluate(params, val)}


RENDER_STAGE_PATH = os.path.splitext(MODEL_PATH)[0] + "_renders.npz"
RENDER_CHUNK = 1000  # photos per cached chunk of rendered crops


def render_cached(
    n_photos: int,
    workers: int,
    cache_dir: str | None,
    seed0: int = TRAIN_SEED,
    hard: bool = False,
    tag: str = "render",
) -> tuple[np.ndarray, np.ndarray]:
    """render_samples in chunks of RENDER_CHUNK photos, each kept in cache_dir to retrain without rendering.

    A single cache_dir/<tag>.npz (all n_photos at once, as `--cache` writes it) is used when present.
    """
    whole = os.path.join(cache_dir, f"{tag}.npz") if cache_dir else None
    if whole and os.path.exists(whole):
        with np.load(whole) as z:
            return z["x"], z["y"]
    xs, ys = [], []
    for c in range(0, n_photos, RENDER_CHUNK):
        n = min(RENDER_CHUNK, n_photos - c)
        path = os.path.join(cache_dir, f"{tag}_{c // RENDER_CHUNK:02d}.npz") if cache_dir else None
        if path and os.path.exists(path):
            with np.load(path) as z:
                x, y = z["x"], z["y"]
        else:
            x, y = render_samples(n, workers, seed0=seed0 + c, hard=hard)
            if path:
                np.savez(path, x=x, y=y)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def real_mix(seed: int = 7) -> tuple[np.ndarray, np.ndarray, object]:
    """The real-crop part of training: wheels of the training makes, real junk, rows of real wheels.

    Returns (crops, labels, the held-out makes' CropSet for validation).
    """
    from ocr_reader import real_crops

    train = real_crops.load(held_out=False)
    val = real_crops.load(held_out=True)
    junk = real_crops.straddling(train.raw, train.maker, REAL_JUNK, seed=seed)
    turned = np.array([turned_is_junk(float(p)) for p in train.y])
    junk = np.concatenate([junk, train.x[turned][:, ::-1, ::-1]])  # real wheels upside down
    xc, yc = real_crops.composite_rows(train.raw, train.y, train.maker, REAL_ROWS, seed=11)
    x = np.concatenate([np.repeat(train.x, REAL_COPIES, axis=0), junk, xc])
    y = np.concatenate([np.repeat(train.y, REAL_COPIES), np.full(len(junk), JUNK, np.float32), yc])
    print(
        f"real: {len(train.y)} crops x {REAL_COPIES}, {len(junk)} junk, "
        f"{len(yc)} crops of rows of real wheels"
    )
    return x, y, val


def build_joint(
    out_path: str,
    workers: int,
    n_photos: int = N_PHOTOS,
    epochs: int = CNN_EPOCHS,
    cache_dir: str | None = None,
    init: str | None = None,
    lr_peak: float = 2e-3,
) -> dict:
    """Train the CNN on renders and real crops together (from scratch, or from init at lr_peak).

    Renders: n_photos photos cut as inference cuts them, plus FINETUNE_PHOTOS more with hard
    negatives mined with the shipped model; real: real_mix(). Validated on the held-out makes.
    """
    from ocr_reader import cnn_train  # jax: only the `train` extra installs it

    t0 = time.monotonic()
    xr, yr = render_cached(n_photos, workers, cache_dir)
    # Hard negatives are mined with the render-trained stage (as when the shipped fine-tune was made).
    os.environ["OCR_WHEEL_MODEL"] = RENDER_STAGE_PATH
    xh, yh = render_cached(
        FINETUNE_PHOTOS, workers, cache_dir, seed0=TRAIN_SEED + 500_000, hard=True, tag="hard"
    )
    xr, yr = balance_junk(np.concatenate([xr, xh]), np.concatenate([yr, yh]))
    del xh, yh
    xq, yq, val = real_mix()
    x = np.concatenate([xr, xq])
    y = np.concatenate([yr, yq])
    del xr, xq
    print(f"joint: {len(y)} crops ({len(yr)} rendered, {len(yq)} real), {int((y == JUNK).sum())} junk")
    params = cnn_train.fit(
        cnn.prepare(x),
        y,
        JUNK,
        epochs=epochs,
        seed=0,
        val=(cnn.prepare(val.x), val.y),
        init=cnn.load(init) if init else None,
        lr_peak=lr_peak,
    )
    save(params, out_path)
    return {"samples": len(y), "seconds": round(time.monotonic() - t0, 1)}


CALIBRATION_SEED = 4_040_404  # training fonts, a seed neither training nor the bench uses


def calibrate(n_photos: int) -> None:
    """Print accepted share and accuracy among accepted for review thresholds (validation renders)."""
    from ocr_reader.api import BadImage, read_photo
    from ocr_reader.scoring import is_correct

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
        rows.append((r.confidence, r.reason in (None, "low_confidence", "rolling_wheel_unsure"), ok))
    for thr in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        acc = [ok for conf, eligible, ok in rows if eligible and conf >= thr]
        correct = np.mean(acc) if acc else 0.0
        print(f"threshold {thr:.1f}: accepted {len(acc) / n_photos:.1%}, correct {correct:.2%}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--photos", type=int, default=N_PHOTOS, help="synthetic training photos to render")
    ap.add_argument("--epochs", type=int, default=CNN_EPOCHS)
    ap.add_argument("--out", default=MODEL_PATH)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", help="keep rendered crops in this .npz to refit without rendering")
    ap.add_argument("--calibrate", type=int, metavar="N", help="only print review-threshold trade-offs")
    ap.add_argument(
        "--real", action="store_true", help="render stage, then fine-tune on real wheel crops (real_crops.py)"
    )
    ap.add_argument("--init", help="skip the render build: fine-tune these weights on real crops")
    ap.add_argument("--rows", action="store_true", help="train the row reader (rowread.py) only")
    ap.add_argument("--row-renders", type=int, default=ROW_RENDERS, help="--rows: rendered rows")
    ap.add_argument("--row-real", type=int, default=ROW_REAL, help="--rows: rows laid out of real wheels")
    ap.add_argument("--joint", action="store_true", help="train the CNN on renders and real crops together")
    ap.add_argument("--cache-dir", help="--joint: keep rendered crops here, in chunks")
    ap.add_argument("--lr", type=float, help="peak learning rate (--joint: 2e-3, --init: FINETUNE_LR)")
    ap.add_argument(
        "--photo-rows", type=int, default=0, help="--init: rows of real wheels as phone photos show them"
    )
    ap.add_argument("--seed", type=int, default=1, help="--init: the fine-tune's seed (order, augmentation)")
    ap.add_argument("--finetune-photos", type=int, default=FINETUNE_PHOTOS, help="--init: renders mixed in")
    args = ap.parse_args(argv)
    if args.joint:
        print(
            build_joint(
                args.out, args.workers, args.photos, args.epochs, args.cache_dir, args.init, args.lr or 2e-3
            )
        )
        return 0
    if args.rows:
        epochs = args.epochs if args.epochs != CNN_EPOCHS else ROW_EPOCHS
        out = args.out if args.out != MODEL_PATH else ROW_MODEL_PATH
        print(build_rows(out, epochs, args.cache, args.row_renders, args.row_real))
        return 0
    if args.calibrate:
        calibrate(args.calibrate)
        return 0
    if args.init:
        epochs = args.epochs if args.epochs != CNN_EPOCHS else FINETUNE_EPOCHS
        print(
            finetune_real(
                args.init,
                args.out,
                args.workers,
                n_photos=args.finetune_photos,
                epochs=epochs,
                cache=args.cache,
                photo_rows=args.photo_rows,
                lr_peak=args.lr or FINETUNE_LR,
                seed=args.seed,
            )
        )
        return 0
    if not args.real:
        print(build(args.photos, args.out, args.workers, args.cache, args.epochs))
        return 0
    stage1 = os.path.splitext(args.out)[0] + "_renders.npz"  # kept: `make ocr-model` starts from it
    print(build(args.photos, stage1, args.workers, None, args.epochs))
    os.remove(os.path.splitext(stage1)[0] + ".onnx")  # the render stage is never run, only tuned
    print(finetune_real(stage1, args.out, args.workers, cache=args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
