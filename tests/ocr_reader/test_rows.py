"""The row reader experiment (rowread.py, not used by the reader): CTC decoding, classes, strips."""

from __future__ import annotations

import numpy as np
import pytest

from ocr_reader.rowread import (
    BLANK,
    N_CLASSES,
    STRIDE_PX,
    RowChar,
    RowReading,
    batch,
    class_value,
    decode,
    label_class,
    prepare,
    shown_digits,
)


def _probs(path: list[int], sure: float = 0.9) -> np.ndarray:
    """Per-column probabilities whose best class follows path."""
    p = np.full((len(path), N_CLASSES), (1 - sure) / (N_CLASSES - 1), np.float32)
    p[np.arange(len(path)), path] = sure
    return p


def test_classes_are_half_digits_and_blank_is_zero():
    assert label_class(0.0) == 1 and label_class(9.5) == 20 and label_class(9.9) == 1  # 9.9 rounds to 0
    assert label_class(3.2) == label_class(3.0) and label_class(3.3) == label_class(3.5)
    assert class_value(label_class(7.5)) == 7.5
    assert shown_digits(label_class(4.0)) == (4,) and shown_digits(label_class(9.5)) == (9, 0)
    assert BLANK == 0


def test_greedy_decoding_collapses_runs_and_keeps_repeats_split_by_blank():
    c0, c6, c8 = label_class(0), label_class(6), label_class(8)
    path = [0, c0, c0, 0, c0, 0, 0, c6, c6, c6, 0, c8, 0]
    reading = decode(_probs(path), len(path))
    assert [ch.cls for ch in reading.chars] == [c0, c0, c6, c8]
    assert reading.text() == "0068"
    # The run's centre, as a share of the strip: the 6 spans columns 7-9 of 13.
    assert reading.chars[2].x_frac == pytest.approx(8.5 / 13)
    assert reading.confidence == pytest.approx(0.9)


def test_decoding_ignores_the_padding_columns():
    c3 = label_class(3)
    path = [0, c3, 0, 0] + [c3, c3]  # the last two columns are padding of a shorter strip
    assert decode(_probs(path), 4).text() == "3"


def test_half_way_wheel_reads_as_unknown_digit_in_text():
    reading = RowReading([RowChar(label_class(2), 0.8, 0.2), RowChar(label_class(2.5), 0.6, 0.6)])
    assert reading.text() == "2?" and reading.confidence == pytest.approx(0.6)


def test_prepare_scales_to_the_model_height_and_pads_in_batches():
    rng = np.random.default_rng(0)
    strips = [rng.integers(0, 256, (50, w, 3), dtype=np.uint8) for w in (120, 260, 2000)]
    x, cols = batch(strips)
    assert x.shape[:3] == (3, 1, 32)
    assert x.shape[3] % STRIDE_PX == 0 and x.shape[3] <= 256  # a very long strip is squeezed
    assert list(cols) == [prepare(s).shape[1] // STRIDE_PX for s in strips]
    assert np.all(x[0, 0, :, cols[0] * STRIDE_PX :] == 0)  # padding is the centred grey
    assert -0.5 <= x.min() and x.max() <= 0.5
