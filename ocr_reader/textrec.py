"""A second reader for a counter's row: the PP-OCRv4 text recogniser that `rapidocr-onnxruntime` ships.

The wheel CNN reads a row wheel by wheel and is unsure of many real wheels that it reads right
(dim, glared, worn print). The PP-OCRv4 recogniser (Apache-2.0, PaddleOCR; a CRNN with CTC trained
on a very large amount of real printed text) reads the whole row as one line of text. It knows
nothing of wheels or carries — it reads a rolling wheel as whichever digit shows more — but it was
trained on other data by other people, so where the two readers agree on every wheel of the row,
the agreement is evidence the CNN's own score does not have. `pipeline.read_image` uses it only for
that: a row whose wheels are read unsurely may be accepted when this reader reads the very same
digits, each surely enough; it never changes a digit, the row or the decimal point.

Nothing is downloaded: the .onnx file is found inside the installed package (as `textdet` finds the
detection model), and run with onnxruntime on one thread. Without it `read_row` returns None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ocr_reader import textdet
from ocr_reader.onnx_session import open_fused_or_original

MODEL_FILE = "ch_PP-OCRv4_rec_infer.onnx"
HEIGHT_PX = 48  # the recogniser's input height (PaddleOCR's rec_image_shape 3, 48, 320)
MAX_WIDTH_PX = 960  # a row wider than 20 heights is squeezed (a counter is at most ~8 wheels wide)
MIN_WIDTH_PX = 16


# The recogniser's dictionary (Chinese and Latin print) holds full-width digits as well: on a dark plate
# it often reads a counter's digits as those ("０２９４６２０"). They are the same digits.
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def is_digit(text: str) -> bool:
    """True when text is one or more of 0-9 (str.isdigit also takes the "²" of "m²", which is read)."""
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class RowText:
    """What the recogniser read: the characters and the probability of each."""

    text: str
    probs: tuple[float, ...]
    # where each character was read: the centre of its most likely time step, as a fraction of the
    # row's width (CTC time steps are 8 input pixels wide: the recogniser's stride)
    xs: tuple[float, ...] = ()


def original_path() -> str | None:
    """The recognition model beside the detection model in the installed package, or None."""
    det = textdet.original_path()
    return None if det is None else os.path.join(os.path.dirname(det), MODEL_FILE)


@lru_cache(maxsize=1)
def _opened():
    return open_fused_or_original(original_path())


def model_path() -> str | None:
    """The model file that runs: the rewritten copy (onnx_fuse) while it is current, else the original."""
    return _opened()[1]


@lru_cache(maxsize=1)
def _model():
    sess = _opened()[0]
    if sess is None:
        return None
    chars = sess.get_modelmeta().custom_metadata_map.get("character", "").splitlines()
    if not chars:
        return None
    # CTC: class 0 is the blank, then the dictionary, then the space PaddleOCR appends.
    return sess, ["", *chars, " "]


def available() -> bool:
    """True when the model file and onnxruntime are installed."""
    return _model() is not None


def _input(strip_bgr: np.ndarray) -> np.ndarray:
    h, w = strip_bgr.shape[:2]
    width = int(np.clip(round(w * HEIGHT_PX / max(h, 1)), MIN_WIDTH_PX, MAX_WIDTH_PX))
    img = cv2.resize(strip_bgr, (width, HEIGHT_PX))  # bilinear, as PaddleOCR prepares its inputs
    x = (img.astype(np.float32) / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None]


def decode(probs: np.ndarray, labels: list[str]) -> RowText:
    """Greedy CTC decoding of one (time steps x classes) probability matrix.

    A character's probability is the best of its run of time steps, and its place that time step's
    centre (CTC's spikes are one step wide); repeats merge unless a blank separates them (so "00"
    needs a blank between the two zeros, as CTC defines it).
    """
    best = probs.argmax(axis=1)
    steps = max(len(best), 1)
    text: list[str] = []
    ps: list[float] = []
    xs: list[float] = []
    prev = 0
    for t, c in enumerate(best):
        c = int(c)
        p = float(probs[t, c])
        if c != 0:
            if c != prev:
                text.append(labels[c])
                ps.append(p)
                xs.append((t + 0.5) / steps)
            elif p > ps[-1]:
                ps[-1] = p
                xs[-1] = (t + 0.5) / steps
        prev = c
    return RowText("".join(text).translate(FULL_WIDTH_DIGITS), tuple(ps), tuple(xs))


def read_row(strip_bgr: np.ndarray) -> RowText | None:
    """Read a rectified row (BGR, any size) as one line of text; None without the model."""
    model = _model()
    if model is None or strip_bgr.size == 0 or strip_bgr.ndim != 3:
        return None
    sess, labels = model
    out = sess.run(None, {sess.get_inputs()[0].name: _input(strip_bgr)})[0][0]
    return decode(out, labels)
