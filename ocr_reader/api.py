"""Public API of the meter-photo reader: read_photo, PhotoReading, BadImage, check_plausibility."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ocr_reader.errors import REASONS, BadImage
from ocr_reader.plausibility import Plausibility, check_plausibility

__all__ = ["BadImage", "REASONS", "PhotoReading", "Plausibility", "check_plausibility", "read_photo"]

ENGINES = ("auto", "wheels", "tesseract")


@dataclass
class PhotoReading:
    """What one photo says: the digits as shown, the value in m3, and how sure the reader is."""

    reading: str  # digits as shown, with a "." before the red (decimal) wheels, e.g. "00123.45"
    value_m3: float | None  # None when the reading has no usable value
    confidence: float  # 0..1, overall
    needs_review: bool  # True: a person must check it; never store it silently
    wheels: list[dict] = field(default_factory=list)  # per wheel: digit, confidence, rolling, red, position
    integer_digits: int = 0
    decimal_digits: int = 0
    dials_used: bool = False  # True: the decimals come from red pointer dials (docs/ocr_dials.md)
    engine: str = "wheels"
    reason: str | None = None  # why needs_review

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def read_photo(data: bytes, *, max_bytes: int = 10_000_000, engine: str = "auto") -> PhotoReading:
    """Read a meter photo (JPEG/PNG/WebP bytes); raise BadImage when it is not a usable photo."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    from ocr_reader.decode import decode_photo
    from ocr_reader.pipeline import read_image

    bgr = decode_photo(data, max_bytes=max_bytes)
    return read_image(bgr, engine="wheels" if engine == "auto" else engine)
