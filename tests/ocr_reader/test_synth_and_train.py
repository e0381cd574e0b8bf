"""The renderer's odometer is true, and training cuts crops the way inference does."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ocr_reader.recognise import JUNK, MODEL_PATH
from ocr_reader.synth import FONT_SETS, render_photo, shown_reading, wheel_positions
from ocr_reader.train import balance_junk, render_samples
from ocr_reader.wheels import CROP_H_PX, CROP_W_PX


def test_odometer_carry_in_the_renderer():
    assert np.allclose(wheel_positions(1239.7, 4), [1.0, 2.0, 3.7, 9.7])
    assert np.allclose(wheel_positions(99.25, 4), [0.0, 0.25, 9.25, 9.25])
    assert np.allclose(wheel_positions(1234.5, 4), [1.0, 2.0, 3.0, 4.5])
    assert shown_reading(9999.7, 4) == 0  # the counter wraps


def test_training_and_heldout_fonts_are_disjoint():
    assert not set(FONT_SETS["train"]) & set(FONT_SETS["heldout"])
    assert not set(FONT_SETS["augmented"]) & set(FONT_SETS["heldout"])
    assert not set(FONT_SETS["wide"]) & set(FONT_SETS["heldout"])
    # Not even another face of a held-out family (nor a metric clone of one: Arimo, Tinos, Cousine).
    for face in FONT_SETS["wide"]:
        assert not face.startswith(("Liberation", "Arimo", "Tinos", "Cousine", "Free", "pil:")), face
    assert not {"hershey:complex", "hershey:plain"} & set(FONT_SETS["wide"])


def test_training_refuses_to_run_without_all_its_fonts(monkeypatch, tmp_path):
    from ocr_reader import train

    monkeypatch.setattr(train, "available_fonts", lambda name: list(FONT_SETS[name])[1:])
    with pytest.raises(SystemExit, match="apt-get install .*fonts-opendin"):
        train.build(1, str(tmp_path / "m.npz"), workers=1)
    assert not (tmp_path / "m.npz").exists()


def test_rendered_photo_truth():
    rng = np.random.default_rng(1)
    data, truth = render_photo(rng, "heldout")
    assert data[:2] == b"\xff\xd8"
    assert 4 <= truth.n_wheels <= 8 and 0 <= truth.n_red <= 4
    assert len(truth.reading.replace(".", "")) == truth.n_wheels
    assert len(truth.window_quad) == 4


def test_training_crops_are_normalised_wheels_and_junk():
    x, y = render_samples(6, workers=1)
    assert x.dtype == np.uint8 and x.shape[1:] == (CROP_H_PX, CROP_W_PX) and len(x) == len(y)
    wheels = y[y != JUNK]
    assert len(wheels) > 6 * 4 and ((wheels >= 0) & (wheels < 10)).all()
    assert (y == JUNK).sum() > 0
    xb, yb = balance_junk(x, y)
    assert (yb == JUNK).sum() <= (yb != JUNK).sum() and len(yb) <= len(y)


def test_jittered_copies_are_added_to_aligned_wheels_only():
    from ocr_reader.train import samples_from_photo

    seed = 20240501
    c0, y0 = samples_from_photo(seed, n_jitter=0)
    c2, y2 = samples_from_photo(seed, n_jitter=2)
    assert (np.array(y2) == JUNK).sum() == (np.array(y0) == JUNK).sum()
    extra = (np.array(y2) != JUNK).sum() - (np.array(y0) != JUNK).sum()
    assert extra >= 2 * 4 and extra % 2 == 0
    assert all(c.shape == (CROP_H_PX, CROP_W_PX) for c in c2)


def test_shipped_model_is_small():
    assert os.path.getsize(MODEL_PATH) < 5_000_000


def test_training_glyphs_vary_in_weight_width_and_slant():
    from ocr_reader.synth import glyph, varied_glyph

    plain = glyph("DejaVuSans.ttf", "8", 2)
    bold = varied_glyph("DejaVuSans.ttf", "8", 2, 3, 0)
    thin = varied_glyph("DejaVuSans.ttf", "8", 2, -2, 0)
    slanted = varied_glyph("DejaVuSans.ttf", "8", 2, 0, 2)
    assert (bold > 127).sum() > (plain > 127).sum() > (thin > 127).sum() > 0
    assert slanted.shape[1] > plain.shape[1]  # the shear widens the glyph's box
    assert np.array_equal(varied_glyph("DejaVuSans.ttf", "8", 2, 0, 0), plain)


def test_heldout_styles_are_never_augmented():
    from ocr_reader.synth import available_fonts, random_wheel_style

    rng = np.random.default_rng(5)
    styles = [random_wheel_style(rng, available_fonts("heldout"), heldout=True) for _ in range(50)]
    assert all(s.stroke_px == 0 and s.slant_10 == 0 and s.aspect == 1.0 for s in styles)
    rng = np.random.default_rng(5)
    train = [random_wheel_style(rng, available_fonts("augmented"), augment=True) for _ in range(50)]
    assert any(s.stroke_px != 0 for s in train) and any(s.aspect != 1.0 for s in train)


def test_finetune_options_reach_the_fine_tune_and_the_default_is_unchanged(monkeypatch):
    """`make ocr-model` (--init alone) fine-tunes as before; round 7's options are passed through."""
    from ocr_reader import train

    calls = []
    monkeypatch.setattr(train, "finetune_real", lambda *a, **k: calls.append((a, k)) or {})
    assert train.main(["--init", "m.npz"]) == 0
    _, k = calls[-1]
    assert k["photo_rows"] == 0 and k["lr_peak"] == train.FINETUNE_LR and k["seed"] == 1
    assert k["epochs"] == train.FINETUNE_EPOCHS and k["n_photos"] == train.FINETUNE_PHOTOS
    argv = ["--init", "m.npz", "--photo-rows", "10000", "--epochs", "2", "--lr", "3e-4", "--seed", "2"]
    assert train.main([*argv, "--finetune-photos", "1000"]) == 0
    _, k = calls[-1]
    assert (k["photo_rows"], k["epochs"], k["lr_peak"], k["seed"], k["n_photos"]) == (10000, 2, 3e-4, 2, 1000)
