"""A meter's reference: its counter window, style and keypoints, learned from one confirmed photo.

Fixed-camera readers align each new frame to reference marks; a resident's later photos of the same
meter are aligned the same way: ORB keypoints of the meter face around the window are matched to
the new photo, a homography (RANSAC) maps the reference window into it, and the reader reads
there. The reference is plain JSON (`to_json`/`from_json`, also bytes) so the web layer can store it
with the meter; nothing in it is an image.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import cv2
import numpy as np

VERSION = 1
N_FEATURES = 800  # ORB keypoints kept around the window
FACE_GROWTH = 2.0  # keypoints are taken in a box this many window widths wide (the meter face)
RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
MIN_INLIERS = 15  # RANSAC inliers for a trusted alignment
MAX_JSON_BYTES = 200_000  # a reference larger than this is refused (it is attacker-controlled input)


class BadReference(ValueError):
    """A reference that cannot be parsed or does not describe a meter window."""


@dataclass
class MeterReference:
    """What the first confirmed photo of a meter taught: where the window is and what it looks like."""

    image_size: tuple[int, int]  # (width, height) of the decoded photo the window is given in
    window: np.ndarray  # 4 x 2 float32 corners tl, tr, br, bl
    n_wheels: int
    decimal_digits: int
    reading: str  # the confirmed reading, as shown
    keypoints: np.ndarray  # N x 2 float32 positions
    descriptors: np.ndarray  # N x 32 uint8 ORB descriptors

    def to_json(self) -> str:
        """Serialise (descriptors base64)."""
        return json.dumps(
            {
                "version": VERSION,
                "image_size": list(self.image_size),
                "window": self.window.round(2).tolist(),
                "n_wheels": self.n_wheels,
                "decimal_digits": self.decimal_digits,
                "reading": self.reading,
                "keypoints": self.keypoints.round(1).tolist(),
                "descriptors": base64.b64encode(self.descriptors.tobytes()).decode("ascii"),
            },
            separators=(",", ":"),
        )

    def to_bytes(self) -> bytes:
        """UTF-8 JSON."""
        return self.to_json().encode()

    @classmethod
    def from_json(cls, text: str | bytes) -> MeterReference:
        """Parse and check a stored reference; BadReference when it is malformed."""
        if len(text) > MAX_JSON_BYTES:
            raise BadReference("reference too large")
        try:
            d = json.loads(text)
            if not isinstance(d, dict):
                raise BadReference("a reference is a JSON object")
            if d.get("version") != VERSION:
                raise BadReference(f"unknown reference version {d.get('version')!r}")
            size = tuple(int(v) for v in d["image_size"])
            window = np.asarray(d["window"], np.float32).reshape(4, 2)
            kp = np.asarray(d["keypoints"], np.float32).reshape(-1, 2)
            desc = np.frombuffer(base64.b64decode(d["descriptors"], validate=True), np.uint8)
            desc = desc.reshape(-1, 32).copy()
            n_wheels, decimals = int(d["n_wheels"]), int(d["decimal_digits"])
            reading = str(d["reading"])
        except BadReference:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise BadReference(f"malformed reference: {err}") from err
        if len(size) != 2 or not all(0 < v <= 20_000 for v in size) or len(kp) != len(desc):
            raise BadReference("reference sizes do not agree")
        if not 1 <= n_wheels <= 12 or not 0 <= decimals < n_wheels or not np.isfinite(window).all():
            raise BadReference("reference window is not a counter")
        return cls(size, window, n_wheels, decimals, reading, kp, desc)


def _face_mask(shape: tuple[int, ...], window: np.ndarray) -> np.ndarray:
    """A box around the window as wide as FACE_GROWTH windows and 0.8 of that high: the meter face."""
    (cx, cy), (w, h), ang = cv2.minAreaRect(window.astype(np.float32))
    long_px = max(w, h)
    box = cv2.boxPoints(((cx, cy), (long_px * FACE_GROWTH, long_px * FACE_GROWTH * 0.8), ang))
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, box.astype(np.int32), 255)
    return mask


def keypoints(bgr: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ORB keypoint positions (N x 2) and descriptors (N x 32 uint8)."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    orb = cv2.ORB.create(nfeatures=N_FEATURES)
    kps, desc = orb.detectAndCompute(gray, mask)
    if desc is None or not kps:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in kps], np.float32), desc


def build(bgr: np.ndarray, window: np.ndarray, n_wheels: int, decimals: int, reading: str) -> MeterReference:
    """A reference from a decoded photo and its (confirmed) counter window."""
    window = np.asarray(window, np.float32).reshape(4, 2)
    kp, desc = keypoints(bgr, _face_mask(bgr.shape, window))
    h, w = bgr.shape[:2]
    return MeterReference((w, h), window, n_wheels, decimals, reading, kp, desc)


def align(bgr: np.ndarray, ref: MeterReference) -> np.ndarray | None:
    """The reference window mapped into this photo (4 x 2), or None when the meter cannot be matched."""
    if len(ref.descriptors) < MIN_INLIERS:
        return None
    kp, desc = keypoints(bgr)
    if len(desc) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(ref.descriptors, desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = ref.keypoints[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = kp[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    hom, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    if hom is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    quad = cv2.perspectiveTransform(ref.window.reshape(1, 4, 2), hom)[0]
    h, w = bgr.shape[:2]
    # The mapped window must be a convex quad inside the photo, not a degenerate fit.
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2).astype(np.float32)):
        return None
    if quad[:, 0].min() < -0.1 * w or quad[:, 0].max() > 1.1 * w or quad[:, 1].min() < -0.1 * h:
        return None
    if quad[:, 1].max() > 1.1 * h or cv2.contourArea(quad) < 64:
        return None
    return quad.astype(np.float32)
