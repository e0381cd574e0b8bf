"""Wheel recognisers: the project's trained k-NN on HOG features, and tesseract for comparison."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ocr_reader import mlp
from ocr_reader.wheels import features, normalise

MODEL_PATH = os.path.join(os.path.dirname(__file__), "models", "wheels.npz")
JUNK = -1.0  # position label of a crop that is not one centred wheel
K_NEIGHBOURS = 9
KNN_DISAGREE_FACTOR = 0.3  # neighbours disagreeing with the perceptron: likely an unfamiliar crop


@dataclass
class WheelGuess:
    """One wheel's estimated continuous position (3.5 = halfway from 3 to 4) and how sure we are."""

    position: float
    confidence: float
    junk: float  # share of neighbours that were misaligned crops


class WheelModel:
    """A perceptron checked by k nearest neighbours, over PCA-reduced HOG features of wheel crops.

    Brute force in numpy: OpenCV 5 moved its `ml` module (KNearest, SVM) out of the main wheel.
    """

    def __init__(self, path: str = MODEL_PATH):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: build it with `python -m ocr_reader.train`")
        with np.load(path) as z:
            self.mean = z["mean"].astype(np.float32)
            self.basis = z["basis"].astype(np.float32)
            samples = z["samples"].astype(np.float32)
            self.positions = z["positions"].astype(np.float32)
            self.scale = z["scale"].astype(np.float32)
            self.net = [z[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2")]
        self.samples = samples
        self.sq_norms = (samples * samples).sum(axis=1)

    def project(self, feats: np.ndarray) -> np.ndarray:
        """PCA projection used for both training samples and queries."""
        return (feats - self.mean) @ self.basis

    def predict(
        self, crops_bgr: list[np.ndarray], check: bool = False, tta: bool = False
    ) -> list[WheelGuess]:
        """Estimate each crop's position with the perceptron; with check, the neighbours must agree.

        With tta the probabilities are averaged over the crop and slightly shifted copies of it,
        so one unlucky cut or an unfamiliar glyph detail sways the estimate less.
        """
        if not crops_bgr:
            return []
        q = self.project(np.stack([features(normalise(c)) for c in crops_bgr]))
        probs = self._probs(q)
        if tta:
            variants = [v for c in crops_bgr for v in _shifted(c)]
            n_var = len(variants) // len(crops_bgr)
            pv = self._probs(self.project(np.stack([features(normalise(v)) for v in variants])))
            probs = (probs + pv.reshape(len(crops_bgr), n_var, -1).sum(axis=1)) / (n_var + 1)
        guesses = [WheelGuess(*mlp.decode(row)) for row in probs]
        if check:
            for g, nn in zip(guesses, self._knn(q), strict=True):
                # Two different learners agreeing is a cheap sign the crop is like the training data.
                if abs((nn.position - g.position + 5) % 10 - 5) > 0.35 or nn.junk > 0.5:
                    g.confidence *= KNN_DISAGREE_FACTOR
        return guesses

    def _probs(self, q: np.ndarray) -> np.ndarray:
        x = q / self.scale
        return np.mean([mlp.forward(x, *member)[1] for member in zip(*self.net, strict=True)], axis=0)

    def predict_knn(self, crops_bgr: list[np.ndarray]) -> list[WheelGuess]:
        """Estimate each crop's position from its nearest training crops alone."""
        if not crops_bgr:
            return []
        return self._knn(self.project(np.stack([features(normalise(c)) for c in crops_bgr])))

    def _knn(self, q: np.ndarray) -> list[WheelGuess]:
        d2 = self.sq_norms[None, :] - 2.0 * (q @ self.samples.T) + (q * q).sum(axis=1)[:, None]
        idx = np.argpartition(d2, K_NEIGHBOURS, axis=1)[:, :K_NEIGHBOURS]
        dists = np.take_along_axis(d2, idx, axis=1)
        return [self._vote(self.positions[row], d) for row, d in zip(idx, dists, strict=True)]

    @staticmethod
    def _vote(pos: np.ndarray, dists: np.ndarray) -> WheelGuess:
        """Weighted mode of the neighbours' positions on the 10-digit circle."""
        weights = 1.0 / (np.sqrt(np.maximum(dists, 0)) + 1e-3)
        total = float(weights.sum())
        junk_w = float(weights[pos == JUNK].sum()) / total
        good = pos != JUNK
        if not good.any():
            return WheelGuess(0.0, 0.0, 1.0)
        p, w = pos[good], weights[good]
        # Support of each neighbour's position: weight of neighbours within 0.35 of a digit of it.
        near = np.abs((p[:, None] - p[None, :] + 5) % 10 - 5) <= 0.35
        support = near @ w
        centre = p[int(np.argmax(support))]
        sel = near[int(np.argmax(support))]
        ang = p[sel] * (2 * math.pi / 10)
        c, s = float((w[sel] * np.cos(ang)).sum()), float((w[sel] * np.sin(ang)).sum())
        position = (math.atan2(s, c) * 10 / (2 * math.pi)) % 10 if sel.any() else float(centre)
        return WheelGuess(position, float(support.max()) / total, junk_w)


TTA_SHIFT = 0.08  # share of a crop's width (and height) trimmed from one side for a shifted copy


def _shifted(crop: np.ndarray) -> list[np.ndarray]:
    """Copies of a wheel crop trimmed a little on one side: the cut a few pixels off either way."""
    h, w = crop.shape[:2]
    dx, dy = max(1, int(round(TTA_SHIFT * w))), max(1, int(round(TTA_SHIFT * h)))
    return [crop[:, dx:], crop[:, : w - dx], crop[dy:, :], crop[: h - dy, :]]


@lru_cache(maxsize=1)
def wheel_model() -> WheelModel:
    """The shipped model, loaded once per process."""
    return WheelModel()


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
