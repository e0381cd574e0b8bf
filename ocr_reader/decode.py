"""Decode uploaded bytes into a small upright BGR array, refusing anything unsafe or unusable."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr_reader.errors import BadImage

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# 40 MP is above any phone camera; more is a decompression bomb, refused before decoding.
MAX_PIXELS = 40_000_000
# The pipeline works on this long side; JPEG draft mode decodes at most 2x that, bounding memory.
WORK_LONG_SIDE_PX = 1024


def decode_photo(
    data: bytes, *, max_bytes: int = 10_000_000, long_side_px: int = WORK_LONG_SIDE_PX
) -> np.ndarray:
    """Return the photo as an upright BGR uint8 array whose long side is at most long_side_px."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise BadImage("too_large", f"upload is {len(data)} bytes; the limit is {max_bytes} bytes")
    if len(data) == 0:
        raise BadImage("not_an_image", "upload is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(bytes(data)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadImage("decompression_bomb", str(err)) from err
    except UnidentifiedImageError as err:
        raise BadImage("not_an_image", "not a JPEG, PNG or WebP image") from err
    except OSError as err:  # Pillow reports damaged headers as OSError
        raise BadImage("truncated", f"damaged image header: {err}") from err
    with img:
        if img.format not in ALLOWED_FORMATS:
            raise BadImage(
                "unsupported_format", f"{img.format} images are not accepted; send JPEG, PNG or WebP"
            )
        width, height = img.size
        # Checked on the header, before a single pixel is decoded.
        if width * height > MAX_PIXELS or width <= 0 or height <= 0:
            raise BadImage("decompression_bomb", f"{width}x{height} pixels exceeds {MAX_PIXELS} pixels")
        if max(width, height) < 64:
            raise BadImage("no_meter", f"{width}x{height} pixels is too small to show a meter")
        if img.format == "JPEG":
            # Decode at reduced scale straight from the DCT: fast and bounded memory.
            img.draft("RGB", (long_side_px, long_side_px))
        try:
            img.load()
            upright = ImageOps.exif_transpose(img)
            rgb = upright.convert("RGB")
        except (OSError, SyntaxError, ValueError) as err:  # truncated data or corrupt chunks
            raise BadImage("truncated", f"image data is incomplete or corrupt: {err}") from err
    scale = long_side_px / max(rgb.size)
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    arr = np.asarray(rgb, dtype=np.uint8)
    return np.ascontiguousarray(arr[:, :, ::-1])
