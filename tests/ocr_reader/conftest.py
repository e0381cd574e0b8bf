"""Synthetic meter photos for the OCR tests, rendered once per session (no files downloaded)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ocr_reader.synth import render_photo

HELDOUT_SEED = 31_337  # neither the training seed nor the bench seed


@pytest.fixture(scope="session")
def heldout_photos() -> list:
    """40 photos in fonts and style ranges the recogniser was not trained on."""
    rng = np.random.default_rng(HELDOUT_SEED)
    return [render_photo(rng, "heldout") for _ in range(40)]


@pytest.fixture(scope="session")
def one_photo(heldout_photos) -> tuple:
    """A photo the trained engine reads confidently, with its truth."""
    from ocr_reader.api import read_photo

    for data, truth in heldout_photos:
        r = read_photo(data)
        if not r.needs_review and r.reading == truth.reading:
            return data, truth
    pytest.fail("no held-out photo was read confidently")


def to_png(data: bytes) -> bytes:
    """Re-encode JPEG bytes as PNG."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buf, "PNG")
    return buf.getvalue()
