"""The row reader experiment: a small convolutional network with CTC that reads a whole counter strip.

Not used by the reader (docs/ocr.md, "Tried in round 2"): trained for 4 epochs on 48,000 rows
(`python -m ocr_reader.train --rows`, half rendered, half laid out of real wheel crops of the training
makes), it read 25 % of its validation rows exactly (1,000 rows of real wheels of the held-out makes,
500 renders in held-out fonts); by shown digits, 8 % of rows of held-out real wheels and 47 % of
rendered rows (300 each) — far too weak to be a second opinion beside a wheel recogniser that reads
96 % of held-out real wheels right. What is kept: the strip preparation, the half-digit
classes (0, 0.5, ... 9.5 plus the CTC blank), greedy decoding and an onnxruntime loader, so the
experiment can be taken up again with a longer training run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ocr_reader.onnx_session import open_session

MODEL_PATH = os.path.join(os.path.dirname(__file__), "models", "rows_crnn.onnx")
ROW_H_PX = 32  # strips are scaled to this height
MAX_W_PX = 256  # and at most this wide (wider rows are squeezed)
STRIDE_PX = 4  # one output column per this many input columns
N_CLASSES = 21  # blank + 20 half-digit positions
BLANK = 0


def label_class(position: float) -> int:
    """A wheel position (0..10) as its half-digit class 1..20 (0 is the CTC blank)."""
    return int(round(position * 2.0)) % 20 + 1


def class_value(cls: int) -> float:
    """A class 1..20 as its wheel position 0, 0.5, ... 9.5."""
    return (cls - 1) / 2.0


def shown_digits(cls: int) -> tuple[int, ...]:
    """The digits a wheel read as this class may show: one, or both neighbours half way between."""
    v = class_value(cls)
    lo = int(np.floor(v)) % 10
    return (lo,) if v == np.floor(v) else (lo, (lo + 1) % 10)


def prepare(strip_bgr: np.ndarray) -> np.ndarray:
    """A strip as the network's input: min over B, G, R (red like black), ROW_H high, stretched, centred.

    Returns float32 H x W (W a multiple of STRIDE_PX, at most MAX_W_PX).
    """
    grey = strip_bgr.min(axis=2) if strip_bgr.ndim == 3 else strip_bgr
    h, w = grey.shape[:2]
    width = int(np.clip(round(ROW_H_PX * w / max(h, 1)), 4 * STRIDE_PX, MAX_W_PX))
    width -= width % STRIDE_PX
    small = cv2.resize(grey, (width, ROW_H_PX), interpolation=cv2.INTER_AREA).astype(np.float32)
    lo, hi = np.percentile(small, (2, 98))
    return np.clip((small - lo) / max(hi - lo, 8.0), 0.0, 1.0) - 0.5


def batch(strips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Prepared strips padded to one width: (N x 1 x H x W float32, output columns of each)."""
    prepped = [prepare(s) for s in strips]
    width = max(p.shape[1] for p in prepped)
    x = np.zeros((len(prepped), 1, ROW_H_PX, width), np.float32)
    for i, p in enumerate(prepped):
        x[i, 0, :, : p.shape[1]] = p
    return x, np.array([p.shape[1] // STRIDE_PX for p in prepped])


@dataclass
class RowChar:
    """One wheel the row reader found: its half-digit class, probability and centre (0..1 of the strip)."""

    cls: int
    prob: float
    x_frac: float

    @property
    def value(self) -> float:
        """The wheel position 0, 0.5, ... 9.5."""
        return class_value(self.cls)


@dataclass
class RowReading:
    """What the row reader reads in one strip, left to right."""

    chars: list[RowChar]

    @property
    def confidence(self) -> float:
        """The least sure wheel's probability (0 when nothing was read)."""
        return min((c.prob for c in self.chars), default=0.0)

    def digits(self) -> list[int]:
        """The digit each wheel shows, half way between two taken as the next one (the way a wheel
        rounds as it turns)."""
        return [int(np.floor(c.value + 0.5)) % 10 for c in self.chars]

    def text(self) -> str:
        """Digits as shown ('?' for a wheel half way between two)."""
        return "".join(
            str(shown_digits(c.cls)[0]) if len(shown_digits(c.cls)) == 1 else "?" for c in self.chars
        )


def decode(probs: np.ndarray, columns: int) -> RowReading:
    """Greedy CTC decoding of one strip's class probabilities (T x N_CLASSES), first `columns` only."""
    p = probs[:columns]
    best = p.argmax(axis=1)
    chars: list[RowChar] = []
    t = 0
    while t < columns:
        cls = int(best[t])
        end = t
        while end + 1 < columns and best[end + 1] == cls:
            end += 1
        if cls != BLANK:
            run = p[t : end + 1, cls]
            centre = (t + end + 1) / 2.0
            chars.append(RowChar(cls, float(run.max()), centre / columns))
        t = end + 1
    return RowReading(chars)


class RowModel:
    """An exported row reader (onnxruntime, one thread)."""

    def __init__(self, path: str = MODEL_PATH):
        self.session = open_session(path)
        if self.session is None:
            raise FileNotFoundError(f"{path} (or onnxruntime) is missing: build it with `make ocr-model`")

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities N x T x N_CLASSES of prepared, padded input N x 1 x H x W."""
        out = self.session.run(None, {"x": x})[0]  # N x C x 1 x T
        return np.ascontiguousarray(out[:, :, 0, :].transpose(0, 2, 1))

    def read(self, strips: list[np.ndarray]) -> list[RowReading]:
        """Read each strip (BGR, any size) as a row of wheels."""
        if not strips:
            return []
        x, cols = batch(strips)
        probs = self.probs(x)
        return [decode(p, int(c)) for p, c in zip(probs, cols, strict=True)]


@lru_cache(maxsize=1)
def row_model() -> RowModel | None:
    """An exported row reader, loaded once (OCR_ROW_MODEL overrides the path); None when it is missing."""
    try:
        return RowModel(os.environ.get("OCR_ROW_MODEL", MODEL_PATH))
    except FileNotFoundError:
        return None
