"""The numpy CNN forward pass against plain-loop references, and the shipped CNN model."""

from __future__ import annotations

import os

import numpy as np

from ocr_reader import cnn
from ocr_reader.positions import N_BINS
from ocr_reader.recognise import MODEL_PATH, WheelModel, wheel_model
from ocr_reader.synth import available_fonts, random_wheel_style, render_counter
from ocr_reader.wheels import CROP_H_PX, CROP_W_PX


def _reference_conv(x_nhwc: np.ndarray, w_hwio: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Zero-padded 3x3 cross-correlation written as loops: slow and obviously right."""
    n, h, wd, _ = x_nhwc.shape
    xp = np.pad(x_nhwc, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, h, wd, w_hwio.shape[3]), np.float64)
    for i in range(h):
        for j in range(wd):
            patch = xp[:, i : i + 3, j : j + 3, :]  # n x 3 x 3 x C
            out[:, i, j, :] = np.einsum("nabc,abcf->nf", patch, w_hwio) + b
    return out


def test_conv_matches_a_hand_checked_case():
    # One 3x4 image, kernel picking the right-hand neighbour plus twice the pixel below.
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)  # C x N... here C=1, N=1 below
    a = x[None]  # 1 x 1 x 3 x 4 (C, N, H, W)
    w = np.zeros((3, 3, 1, 1), np.float32)
    w[1, 2, 0, 0] = 1.0  # (dy=0, dx=+1)
    w[2, 1, 0, 0] = 2.0  # (dy=+1, dx=0)
    out = cnn.conv3x3(a, w, np.array([0.5], np.float32))[0, 0]
    img = x[0]
    expected = (
        np.array(
            [
                [
                    img[0, 1] + 2 * img[1, 0],
                    img[0, 2] + 2 * img[1, 1],
                    img[0, 3] + 2 * img[1, 2],
                    2 * img[1, 3],
                ],
                [
                    img[1, 1] + 2 * img[2, 0],
                    img[1, 2] + 2 * img[2, 1],
                    img[1, 3] + 2 * img[2, 2],
                    2 * img[2, 3],
                ],
                [img[2, 1], img[2, 2], img[2, 3], 0.0],
            ]
        )
        + 0.5
    )
    assert np.allclose(out, expected)


def test_conv_matches_the_loop_reference_on_random_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4, 5)).astype(np.float32)  # N x H x W x C
    w = rng.normal(size=(3, 3, 5, 7)).astype(np.float32)
    b = rng.normal(size=7).astype(np.float32)
    got = cnn.conv3x3(x.transpose(3, 0, 1, 2), w, b).transpose(1, 2, 3, 0)
    assert np.allclose(got, _reference_conv(x, w, b), atol=1e-4)


def test_pool_takes_the_maximum_of_each_2x2_block():
    a = np.array([[1, 5, 2, 0], [3, 4, 8, 1]], np.float32)[None, None]  # C=1, N=1, 2 x 4
    assert np.array_equal(cnn.pool2(a)[0, 0], [[5, 8]])


def test_forward_matches_a_reference_network_on_fixed_weights():
    rng = np.random.default_rng(1)
    h, w = 16, 8
    widths, c_in, params = (2, 3, 4), 1, {}
    for name, c_out in zip(cnn.CONV_LAYERS, widths, strict=True):
        params[name + "_w"] = rng.normal(size=(3, 3, c_in, c_out)).astype(np.float32)
        params[name + "_b"] = rng.normal(size=c_out).astype(np.float32) * 0.1
        c_in = c_out
    params["d1_w"] = rng.normal(size=((h // 8) * (w // 8) * c_in, 5)).astype(np.float32)
    params["d1_b"] = np.zeros(5, np.float32)
    params["out_w"] = rng.normal(size=(5, N_BINS + 1)).astype(np.float32)
    params["out_b"] = np.zeros(N_BINS + 1, np.float32)
    x = rng.uniform(-0.5, 0.5, (3, h, w, 1)).astype(np.float32)

    ref = x.astype(np.float64)
    for name in cnn.CONV_LAYERS:
        ref = np.maximum(_reference_conv(ref, params[name + "_w"], params[name + "_b"]), 0)
        n, hh, ww, c = ref.shape
        ref = ref.reshape(n, hh // 2, 2, ww // 2, 2, c).max(axis=(2, 4))
    emb = np.maximum(ref.reshape(len(ref), -1) @ params["d1_w"] + params["d1_b"], 0)
    z = emb @ params["out_w"] + params["out_b"]
    p_ref = np.exp(z - z.max(axis=1, keepdims=True))
    p_ref /= p_ref.sum(axis=1, keepdims=True)

    got_emb, got_p = cnn.forward(params, x)
    assert np.allclose(got_emb, emb, atol=1e-4)
    assert np.allclose(got_p, p_ref, atol=1e-5)


def test_shipped_cnn_is_small_and_shaped_for_the_crops():
    assert os.path.getsize(MODEL_PATH) < 5_000_000
    model = WheelModel()
    x = cnn.prepare(np.full((2, CROP_H_PX, CROP_W_PX), 200, np.uint8))
    _, probs = cnn.forward(model.params, x)
    assert probs.shape == (2, N_BINS + 1) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_cnn_reads_clean_heldout_wheels_and_rolling_ones():
    style = random_wheel_style(np.random.default_rng(4), available_fonts("heldout"), heldout=True)
    positions = [0.0, 3.0, 6.0, 8.0, 9.0, 4.5]
    crops = [render_counter(style, [p], 0, 40, 60) for p in positions]
    guesses = wheel_model().predict(crops, tta=True)
    for g, p in zip(guesses, positions, strict=True):
        assert abs((g.position - p + 5) % 10 - 5) < 0.35, (g.position, p)


def test_missing_model_file_says_how_to_build_it(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="make ocr-model"):
        WheelModel(str(tmp_path / "none.npz"))


def test_onnx_graph_gives_the_numpy_probabilities():
    """The shipped .onnx carries the .npz's weights: onnxruntime and numpy agree on real-size batches."""
    from ocr_reader.recognise import MODEL_PATH, WheelModel

    fast, slow = WheelModel(MODEL_PATH), WheelModel(MODEL_PATH, use_onnx=False)
    assert fast.session is not None and slow.session is None
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, (64, int(rng.integers(30, 60)), 3), dtype=np.uint8) for _ in range(300)]
    assert np.abs(fast.probs(crops) - slow.probs(crops)).max() < 1e-4


def _decode_reference(probs: np.ndarray) -> tuple[float, float, float]:
    """The decoding written plainly for one row (as it was before it was batched)."""
    import math

    from ocr_reader import positions

    junk = float(probs[positions.JUNK_CLASS])
    q = probs[: positions.N_BINS] / max(1e-9, 1.0 - junk)
    k = int(np.argmax(q))
    win = [(k - 1) % positions.N_BINS, k, (k + 1) % positions.N_BINS]
    ang = np.array(win, np.float32) * (2 * math.pi / positions.N_BINS)
    w = q[win]
    y, x = float((w * np.sin(ang)).sum()), float((w * np.cos(ang)).sum())
    return (math.atan2(y, x) * positions.N_BINS / (2 * math.pi) / 2.0) % 10.0, float(w.sum()), junk


def test_decoding_a_batch_gives_every_rows_own_numbers():
    from ocr_reader import positions

    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.full(positions.N_BINS + 1, 0.3), size=2000).astype(np.float32)
    probs[:20] = 0
    probs[:20, positions.JUNK_CLASS] = 1.0  # all junk: the 1e-9 floor
    probs[20:40] = 0
    probs[20:40, rng.integers(0, positions.N_BINS, 20)] = 1.0  # sure, any bin (the wrap at 9.5 -> 0)
    assert positions.decode_batch(probs) == [_decode_reference(row) for row in probs]
    assert [positions.decode(row) for row in probs[:50]] == [_decode_reference(row) for row in probs[:50]]
    assert positions.decode_batch(probs[:0]) == []


def _normalise_reference(crop: np.ndarray) -> np.ndarray:
    """The normalisation written plainly for one crop (per-crop channel min, percentiles)."""
    import cv2

    from ocr_reader.wheels import CROP_H_PX, CROP_W_PX

    small = cv2.resize(crop, (CROP_W_PX, CROP_H_PX), interpolation=cv2.INTER_AREA)
    g = (small.min(axis=2) if small.ndim == 3 else small).astype(np.float32)
    flat = np.sort(g.ravel())
    lo, hi = flat[int(0.02 * (flat.size - 1))], flat[int(0.98 * (flat.size - 1))]
    g = np.clip((g - lo) / max(hi - lo, 8.0), 0, 1)
    centre = np.sort(g[CROP_H_PX // 4 : -CROP_H_PX // 4, CROP_W_PX // 5 : -CROP_W_PX // 5].ravel())
    if centre[centre.size // 2] < 0.5:
        g = 1.0 - g
    return (g * 255).astype(np.uint8)


def test_a_batch_of_crops_is_normalised_as_each_crop_alone():
    from ocr_reader.wheels import normalise_batch

    rng = np.random.default_rng(6)
    sizes = [(int(rng.integers(20, 90)), int(rng.integers(12, 60))) for _ in range(30)]
    crops = [rng.integers(0, 256, (h, w, 3), np.uint8) for h, w in sizes]
    crops[3][..., 2] = 250  # a red wheel: the min over channels keeps it dark
    crops[4][:] = 255  # blank: the stretch's floor of 8 grey levels
    together = normalise_batch(crops)
    assert together.shape == (30, 40, 24)
    assert np.array_equal(together, np.stack([_normalise_reference(c) for c in crops]))
    grey = rng.integers(0, 256, (50, 30), np.uint8)
    assert np.array_equal(normalise_batch([grey])[0], _normalise_reference(grey))


def test_crops_are_counted_per_photo_in_each_thread_that_reads_one():
    # a server reads photos in several threads with one model: each photo's count is its own
    import threading

    from ocr_reader.recognise import crops_counted

    model = wheel_model()
    crop = np.full((CROP_H_PX, CROP_W_PX, 3), 128, np.uint8)
    start = threading.Barrier(2)
    counts: dict[int, int] = {}

    def read(n: int) -> None:
        with crops_counted() as crops_read:
            start.wait()
            for _ in range(n):
                model.probs([crop, crop])
            counts[n] = crops_read()

    threads = [threading.Thread(target=read, args=(n,)) for n in (3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == {3: 6, 5: 10}
    with crops_counted() as outside:
        pass
    model.probs([crop])  # read after its photo was done: not counted there
    assert outside() == 0
