"""Public API of the meter-photo reader: read_photo, learn_reference, PhotoReading, Previous, BadImage."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from ocr_reader.errors import REASONS, BadImage
from ocr_reader.plausibility import Plausibility, check_plausibility

__all__ = [
    "BadImage",
    "REASONS",
    "PhotoReading",
    "Plausibility",
    "Previous",
    "check_plausibility",
    "learn_reference",
    "read_photo",
]

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
    # Other readings a reviewer should be offered, most likely first: {"reading", "value_m3", "why", "fit"}
    alternatives: list[dict] = field(default_factory=list)
    window: list[list[float]] = field(default_factory=list)  # corners read, in decoded-photo pixels
    window_source: str = ""  # frame, text, glyphs, given (guided capture) or reference
    # The same corners as fractions of the upright photo (read_photo's window form: it may be sent back)
    window_frac: list[list[float]] = field(default_factory=list)
    # The second reader (PP-OCR's text recogniser) on the row, consulted when the wheels read unsurely:
    # "agrees" (every digit the same, each read surely), "agrees_on_black_wheels" (the same black wheels,
    # each read surely; only red wheels read otherwise), "disagrees", or "" (not consulted / unavailable)
    second_reader: str = ""
    # Red (decimal) wheels read too unsurely to count, left out: the reading is the black wheels' whole
    # m3 (as a meter reader writes it down); the full reading is the first alternative
    decimals_dropped: int = 0
    # 0: read in one look. n >= 2: the first look left it unsure (a retaken reason), the photo was read
    # again slightly turned and scaled, and n of those views read the same whole m3 surely (retake.py)
    views_agreeing: int = 0

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class Previous:
    """The meter's previous accepted reading and how much could have flowed since."""

    value_m3: float
    elapsed_s: float | None = None  # seconds since it; None checks the direction only
    max_flow_m3_per_h: float = 3.0  # the household's usage bound

    def __post_init__(self) -> None:
        check_plausibility(self.value_m3, self.value_m3, self.elapsed_s, self.max_flow_m3_per_h)


def _window_px(window, width: int, height: int):
    """A window given as fractions of the upright photo -> 4 x 2 corners in decoded pixels.

    Accepts (x0, y0, x1, y1) for an upright box, or four (x, y) corners tl, tr, br, bl.
    """
    import numpy as np

    try:
        arr = np.asarray(window, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("window must be numbers") from err
    if arr.shape == (4,):
        x0, y0, x1, y1 = arr
        arr = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if arr.shape != (4, 2) or not np.isfinite(arr).all():
        raise ValueError("window must be (x0, y0, x1, y1) or four (x, y) corners, as fractions 0..1")
    if arr.min() < -0.05 or arr.max() > 1.05:
        raise ValueError("window corners are fractions of the photo's width and height (0..1)")
    px = (np.clip(arr, 0, 1) * [width - 1, height - 1]).astype(np.float32)
    w = float(np.linalg.norm(px[1] - px[0]))
    h = float(np.linalg.norm(px[3] - px[0]))
    if w < 16 or h < 6:
        raise ValueError("window is too small to hold a counter")
    return px


def _window_frac(window_px: list[list[float]], width: int, height: int) -> list[list[float]]:
    """Corners in decoded pixels -> fractions of the upright photo (the inverse of _window_px)."""
    sx, sy = max(width - 1, 1), max(height - 1, 1)
    return [
        [round(min(max(x / sx, 0.0), 1.0), 4), round(min(max(y / sy, 0.0), 1.0), 4)] for x, y in window_px
    ]


def _reference(reference):
    from ocr_reader.reference import MeterReference

    if reference is None or isinstance(reference, MeterReference):
        return reference
    if isinstance(reference, str | bytes | bytearray):
        return MeterReference.from_json(bytes(reference) if not isinstance(reference, str) else reference)
    raise TypeError("reference must be a MeterReference or its JSON (str or bytes)")


def _previous(previous) -> Previous | None:
    if previous is None or isinstance(previous, Previous):
        return previous
    if isinstance(previous, dict):
        return Previous(**previous)
    if isinstance(previous, int | float) and math.isfinite(previous):
        return Previous(float(previous))
    raise TypeError("previous must be a Previous, a dict of its fields, or a number of m3")


def read_photo(
    data: bytes,
    *,
    window: Sequence | None = None,
    reference=None,
    previous=None,
    max_bytes: int = 10_000_000,
    engine: str = "auto",
) -> PhotoReading:
    """Read a meter photo (JPEG/PNG/WebP bytes); raise BadImage when it is not a usable photo.

    window: where the resident aligned the counter (guided capture), as fractions of the upright
    photo: (x0, y0, x1, y1) or four (x, y) corners tl, tr, br, bl. reference: the meter's
    MeterReference (or its JSON) from learn_reference; the photo is aligned to it. previous: the
    meter's last reading (Previous, its dict, or m3), which bounds what is plausible.
    A given window wins over the reference; without either the counter is searched for.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    from ocr_reader.decode import decode_photo
    from ocr_reader.pipeline import read_image
    from ocr_reader.recognise import crops_counted
    from ocr_reader.reference import align
    from ocr_reader.retake import CROP_BUDGET, retaken

    ref = _reference(reference)
    prev = _previous(previous)
    bgr = decode_photo(data, max_bytes=max_bytes)
    h, w = bgr.shape[:2]
    quad = _window_px(window, w, h) if window is not None else None
    source = "given"
    style = None
    if ref is not None:
        style = (ref.n_wheels, ref.decimal_digits)
        if quad is None:
            quad = align(bgr, ref)
            source = "reference"
    engine = "wheels" if engine == "auto" else engine

    def read(image, window_px):
        return read_image(image, engine=engine, window=window_px, style=style, previous=prev)

    with crops_counted() as crops_read:
        r = read(bgr, quad)
        if engine == "wheels":
            r = retaken(bgr, r, read, quad, affordable=lambda: crops_read() < CROP_BUDGET)
    if quad is not None:
        r.window_source = source
    r.window_frac = _window_frac(r.window, w, h)
    return r


def learn_reference(
    data: bytes, confirmed_reading: str, window: Sequence | None = None, *, max_bytes: int = 10_000_000
):
    """A MeterReference from a photo whose reading a person confirmed (window as in read_photo).

    Without a window the counter is searched for, and its wheels must read the confirmed digits
    (BadReference otherwise: the caller should ask the resident to align the window).
    """
    import numpy as np

    from ocr_reader.decode import decode_photo
    from ocr_reader.pipeline import read_image
    from ocr_reader.reference import BadReference, build
    from ocr_reader.textrec import is_digit

    digits = str(confirmed_reading).replace(".", "").replace(",", "").strip()
    if not is_digit(digits) or not 1 <= len(digits) <= 12:
        raise ValueError(f"confirmed_reading must be the digits shown, got {confirmed_reading!r}")
    decimals = len(str(confirmed_reading).split(".", 1)[1]) if "." in str(confirmed_reading) else 0
    bgr = decode_photo(data, max_bytes=max_bytes)
    h, w = bgr.shape[:2]
    quad = _window_px(window, w, h) if window is not None else None
    r = read_image(bgr, window=quad)
    read_digits = r.reading.replace(".", "")
    if r.decimals_dropped:
        read_digits = "".join(str(w["digit"]) for w in r.wheels)
    if len(read_digits) != len(digits):
        raise BadReference(
            f"the counter found reads {r.reading!r} ({len(read_digits)} wheels), not the {len(digits)} "
            "wheels confirmed: align the window on the counter"
        )
    if quad is None and read_digits[: r.integer_digits] != digits[: r.integer_digits]:
        raise BadReference(f"the counter found reads {r.reading!r}, not {confirmed_reading!r}")
    # the strip the wheels were read in (the window as grown or cut to them), as read_image gives it
    return build(bgr, np.asarray(r.window, np.float32), len(digits), decimals, str(confirmed_reading))
