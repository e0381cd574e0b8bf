"""A meter's reference: learned from one confirmed photo, later photos aligned to it, hostile JSON refused."""

from __future__ import annotations

import base64
import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr_reader.api import learn_reference, read_photo
from ocr_reader.decode import decode_photo
from ocr_reader.reference import MAX_JSON_BYTES, BadReference, MeterReference, align


def _later_photo(data: bytes, seed: int) -> tuple[bytes, np.ndarray]:
    """The same meter photographed again: moved, turned, nearer, darker. Returns (JPEG, homography)."""
    rng = np.random.default_rng(seed)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    ang, scale = rng.uniform(-12, 12), rng.uniform(0.85, 1.1)
    m = cv2.getRotationMatrix2D((w / 2 + rng.uniform(-20, 20), h / 2), ang, scale)
    hom = np.vstack([m, [0, 0, 1]])
    hom[2, :2] = rng.uniform(-1e-4, 1e-4, 2)  # a little perspective
    out = cv2.warpPerspective(img, hom, (w, h), borderMode=cv2.BORDER_REPLICATE)
    out = np.clip(out.astype(np.float32) * rng.uniform(0.75, 0.95), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    return buf.tobytes(), hom


@pytest.fixture(scope="module")
def learned(one_photo):
    data, truth = one_photo
    return learn_reference(data, truth.reading)


def test_reference_survives_json_and_bytes(learned, one_photo):
    assert learned.reading == one_photo[1].reading and learned.n_wheels == one_photo[1].n_wheels
    for blob in (learned.to_json(), learned.to_bytes()):
        back = MeterReference.from_json(blob)
        assert back.n_wheels == learned.n_wheels and back.decimal_digits == learned.decimal_digits
        assert np.allclose(back.window, learned.window, atol=0.01)
        assert (back.descriptors == learned.descriptors).all() and len(back.keypoints) >= 100
    assert len(learned.to_json()) < MAX_JSON_BYTES


def test_later_photos_are_read_in_the_reference_window(learned, one_photo):
    data, truth = one_photo
    for seed in (1, 2, 3):
        later, hom = _later_photo(data, seed)
        bgr = decode_photo(later)
        quad = align(bgr, learned)
        assert quad is not None
        expected = cv2.perspectiveTransform(learned.window.reshape(1, 4, 2), hom)[0]
        assert np.abs(quad - expected).max() < 6.0  # pixels of the decoded photo
        r = read_photo(later, reference=learned.to_json())
        assert r.window_source == "reference"
        # the reading, or its whole m3 where only the red (decimal) wheels were unsure
        whole = truth.reading.split(".")[0]
        assert r.reading == (whole if r.decimals_dropped else truth.reading), (seed, r.reading, r.reason)


def test_unrelated_photo_does_not_align(learned, heldout_photos, one_photo):
    other = next(d for d, t in heldout_photos if d != one_photo[0])
    assert align(decode_photo(other), learned) is None
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert align(noise, learned) is None


def test_a_confirmed_reading_the_photo_does_not_show_is_refused(one_photo):
    data, truth = one_photo
    wrong = "".join(str((int(c) + 3) % 10) for c in truth.reading.replace(".", ""))
    with pytest.raises(BadReference):
        learn_reference(data, wrong)
    with pytest.raises(ValueError):
        learn_reference(data, "12ab")


def _bad_references(good: str) -> list:
    d = json.loads(good)
    huge = "x" * (MAX_JSON_BYTES + 1)
    return [
        "",
        "{",
        "[]",
        json.dumps({**d, "version": 99}),
        json.dumps({**d, "window": [[0, 0], [1, 1]]}),
        json.dumps({**d, "window": [[0, 0], [1, 0], [1, 1], ["nan", 1]]}),
        json.dumps({**d, "descriptors": "not base64!"}),
        json.dumps({**d, "descriptors": base64.b64encode(b"\x00" * 31).decode()}),
        json.dumps({**d, "keypoints": d["keypoints"][:-1]}),
        json.dumps({**d, "n_wheels": 0}),
        json.dumps({**d, "decimal_digits": 99}),
        json.dumps({**d, "image_size": [0, 10]}),
        huge,
    ]


def test_malformed_references_are_refused(learned, one_photo):
    for bad in _bad_references(learned.to_json()):
        with pytest.raises(BadReference):
            MeterReference.from_json(bad)
    with pytest.raises(ValueError):  # BadReference is a ValueError: the API answers 4xx
        read_photo(one_photo[0], reference="{")
    with pytest.raises(TypeError):
        read_photo(one_photo[0], reference=12)


def test_reference_from_guided_window(one_photo):
    data, truth = one_photo
    img = Image.open(io.BytesIO(data))
    quad = np.array(truth.window_quad, np.float32) / [img.width, img.height]
    ref = learn_reference(data, truth.reading, window=quad.tolist())
    assert ref.n_wheels == truth.n_wheels and ref.decimal_digits == truth.n_red
