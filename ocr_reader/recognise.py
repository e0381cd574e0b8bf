"""Wheel recognisers: the project's CNN (cnn.py, trained by train.py), and tesseract for comparison."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ocr_reader import cnn, positions
from ocr_reader.onnx_session import open_session
from ocr_reader.wheels import normalise_batch

MODEL_PATH = os.path.join(os.path.dirname(__file__), "models", "wheels_cnn.npz")
JUNK = -1.0  # position label of a crop that is not one centred wheel
# The crops read so far for the photo being read in this context (a request's worker thread), or None.
_photo_crops: ContextVar[list[int] | None] = ContextVar("photo_crops", default=None)


@contextmanager
def crops_counted() -> Iterator[Callable[[], int]]:
    """Within: a function giving the crops the recogniser has read in this context since it began.

    The model is shared by every thread of a server; its own `crops_read` counts them all. This counts
    one photo's work, in whatever thread reads it (contextvars follow the reading, not the model).
    """
    count = [0]
    token = _photo_crops.set(count)
    try:
        yield lambda: count[0]
    finally:
        _photo_crops.reset(token)


@dataclass
class WheelGuess:
    """One wheel's estimated continuous position (3.5 = halfway from 3 to 4) and how sure we are."""

    position: float
    confidence: float
    junk: float  # probability that the crop is not one centred wheel

    @property
    def score(self) -> float:
        """How much the crop looks like one centred wheel read surely: confidence x (1 - junk)."""
        return self.confidence * (1.0 - self.junk)


TTA_SHIFT = 0.08  # share of a crop's width (and height) trimmed from one side for a shifted copy


def _shifted(crop: np.ndarray) -> list[np.ndarray]:
    """Copies of a wheel crop trimmed a little on one side: the cut a few pixels off either way."""
    h, w = crop.shape[:2]
    dx, dy = max(1, int(round(TTA_SHIFT * w))), max(1, int(round(TTA_SHIFT * h)))
    return [crop[:, dx:], crop[:, : w - dx], crop[dy:, :], crop[: h - dy, :]]


class WheelModel:
    """The shipped recogniser: a small CNN over normalised crops (cnn.py), run in numpy.

    It outputs 20 half-digit position bins plus "junk" (positions.py), decoded to a continuous
    position and a confidence.
    """

    def __init__(self, path: str = MODEL_PATH, use_onnx: bool = True):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: build it with `make ocr-model`")
        self.params = cnn.load(path)
        # The same weights as an onnxruntime session: 7x faster than numpy on one core.
        self.session = open_session(os.path.splitext(path)[0] + ".onnx") if use_onnx else None
        self.crops_read = 0  # work done so far: the tests bound it on hostile images

    def probs(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """Class probabilities of crops, one batched forward pass (onnxruntime when installed)."""
        self.crops_read += len(crops_bgr)
        count = _photo_crops.get()
        if count is not None:
            count[0] += len(crops_bgr)
        x = cnn.prepare(normalise_batch(crops_bgr))
        if self.session is None:
            return cnn.forward(self.params, x)[1]
        return self.session.run(None, {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]

    def predict(self, crops_bgr: list[np.ndarray], tta: bool = False) -> list[WheelGuess]:
        """Estimate each crop's position; with tta, averaged over slightly shifted copies of it.

        Shift averaging makes one unlucky cut or an unfamiliar glyph detail sway the estimate less.
        """
        if not crops_bgr:
            return []
        variants = [v for c in crops_bgr for v in _shifted(c)] if tta else []
        probs = self.probs(list(crops_bgr) + variants)
        n = len(crops_bgr)
        p = probs[:n]
        if tta:
            n_var = len(variants) // n
            p = (p + probs[n:].reshape(n, n_var, -1).sum(axis=1)) / (n_var + 1)
        return [WheelGuess(*d) for d in positions.decode_batch(p)]


@lru_cache(maxsize=1)
def wheel_model() -> WheelModel:
    """The shipped model, loaded once per process (OCR_WHEEL_MODEL overrides the path, for experiments)."""
    return WheelModel(os.environ.get("OCR_WHEEL_MODEL", MODEL_PATH))


def tesseract_digits(strip_bgr: np.ndarray) -> tuple[str, float]:
    """Read a rectified wheel row with tesseract as one text line of digits; (digits, confidence 0..1)."""
    import pytesseract

    gray = cv2.cvtColor(strip_bgr, cv2.COLOR_BGR2GRAY) if strip_bgr.ndim == 3 else strip_bgr
    gray = cv2.resize(gray, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.mean(bw) < 128:  # tesseract wants dark text on a light page
        bw = 255 - bw
    bw = cv2.copyMakeBorder(bw, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)
    data = pytesseract.image_to_data(
        bw, config="--psm 7 -c tessedit_char_whitelist=0123456789", output_type=pytesseract.Output.DICT
    )
    text, confs = "", []
    for word, conf in zip(data["text"], data["conf"], strict=True):
        word = "".join(ch for ch in str(word) if ch.isdigit())
        if word:
            text += word
            confs.append(float(conf))
    return text, (min(confs) / 100.0 if confs else 0.0)
