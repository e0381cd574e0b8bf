"""Units: volumes are integer millilitres everywhere; exact conversions to and from litres and m³.

No float ever carries a volume into storage or arithmetic: text and Decimal convert exactly, a float
(from JSON) converts through its shortest repr, which is what the sender wrote.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import Invalid

ML_PER_L = 1000
ML_PER_M3 = 1_000_000
L_PER_M3 = 1000
MINUTE_S = 60
HOUR_S = 3600
DAY_S = 86_400
ML = Decimal("0.001")  # one millilitre, in litres


class BadVolume(Invalid):
    """A volume that is not a finite, non-negative number (or has sub-millilitre digits where refused)."""


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BadVolume(f"{what} must be a number, got {type(value).__name__}")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as err:
        raise BadVolume(f"{what} {str(value)[:40]!r} is not a number") from err
    if not d.is_finite():
        raise BadVolume(f"{what} {str(value)[:40]!r} is not finite")
    return d


def ml_from_litres(value: object, *, exact: bool = True) -> int:
    """Millilitres from litres; with `exact`, more than 3 decimals is refused, else rounded half up."""
    d = _decimal(value, "litres") * ML_PER_L
    if exact:
        whole = int(d)
        if d != whole:
            raise BadVolume(f"litres {value!r} has more than 3 decimals")
        return whole
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ml_from_m3(value: object) -> int:
    """Millilitres from cubic metres, rounded half up to the millilitre."""
    return int((_decimal(value, "m3") * ML_PER_M3).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def litres_text(ml: int) -> str:
    """Exact decimal litres from integer millilitres ("-1.005"), the one text form of a volume.

    Cut from the digits (a point before the last three), not formatted with `03d`: the ingest writes one
    per reading, and the format-spec path was 8 % of its judging time (perf, 1M meters)."""
    if ml < 0:
        return "-" + litres_text(-ml)
    digits = str(ml)
    if len(digits) < 4:
        digits = digits.zfill(4)
    return digits[:-3] + "." + digits[-3:]


def litres(ml: int) -> Decimal:
    """Integer millilitres as exact Decimal litres."""
    return Decimal(ml).scaleb(-3)


def to_litres(value: object) -> Decimal:
    """A volume in litres as Decimal with millilitre resolution (half up); refuses negative or non-finite."""
    d = _decimal(value, "litres")
    if d < 0:
        raise BadVolume(f"a volume must not be negative, got {value!r}")
    return d.quantize(ML, rounding=ROUND_HALF_UP)
