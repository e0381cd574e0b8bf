"""The renderer's odometer is true, and `python -m ocr_reader.train` builds a small usable model."""

from __future__ import annotations

import os

import numpy as np

from ocr_reader.recognise import MODEL_PATH, WheelModel
from ocr_reader.synth import FONT_SETS, render_photo, shown_reading, wheel_positions
from ocr_reader.train import build


def test_odometer_carry_in_the_renderer():
    assert np.allclose(wheel_positions(1239.7, 4), [1.0, 2.0, 3.7, 9.7])
    assert np.allclose(wheel_positions(99.25, 4), [0.0, 0.25, 9.25, 9.25])
    assert np.allclose(wheel_positions(1234.5, 4), [1.0, 2.0, 3.0, 4.5])
    assert shown_reading(9999.7, 4) == 0  # the counter wraps


def test_training_and_heldout_fonts_are_disjoint():
    assert not set(FONT_SETS["train"]) & set(FONT_SETS["heldout"])


def test_rendered_photo_truth():
    rng = np.random.default_rng(1)
    data, truth = render_photo(rng, "heldout")
    assert data[:2] == b"\xff\xd8"
    assert 4 <= truth.n_wheels <= 8 and 0 <= truth.n_red <= 4
    assert len(truth.reading.replace(".", "")) == truth.n_wheels
    assert len(truth.window_quad) == 4


def test_train_builds_a_small_loadable_model(tmp_path):
    out = tmp_path / "m.npz"
    summary = build(16, str(out), workers=1)
    assert summary["samples"] > 100 and 0 < summary["junk"] < summary["samples"]
    model = WheelModel(str(out))
    assert 0 < model.samples.shape[0] <= summary["samples"]


def test_shipped_model_is_small():
    assert os.path.getsize(MODEL_PATH) < 5_000_000
