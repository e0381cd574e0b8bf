"""Exact money: Decimal yuan rounded half-up to the fen; parsing refuses floats and junk."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from billing.errors import Invalid

FEN = Decimal("0.01")
ML = Decimal("0.001")


class AmountError(Invalid, ValueError):
    """An amount that is not a finite decimal with at most 2 places."""


def yuan(value: Decimal | int | str) -> Decimal:
    """Round to the fen, half up."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def parse_amount(
    raw: str | int | Decimal, *, positive: bool = True, max_yuan: Decimal = Decimal("1000000")
) -> Decimal:
    """A money amount from text: finite, at most 2 decimal places, within limits."""
    if isinstance(raw, float | bool):
        raise AmountError('amount must be a decimal string like "50.00", not a float')
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as err:
        raise AmountError(f"amount {raw!r} is not a decimal number") from err
    if not value.is_finite():
        raise AmountError(f"amount {raw!r} is not finite")
    if value != value.quantize(FEN, rounding=ROUND_HALF_UP):
        raise AmountError(f"amount {raw!r} has more than 2 decimal places (fen)")
    if positive and value <= 0:
        raise AmountError(f"amount must be positive, got {raw}")
    if abs(value) > max_yuan:
        raise AmountError(f"amount {raw} exceeds the limit of {max_yuan} yuan")
    return value.quantize(FEN)


def litres(value: float | int | Decimal) -> Decimal:
    """A volume in litres as Decimal with millilitre resolution; refuses negative or non-finite."""
    d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not d.is_finite() or d < 0:
        raise ValueError(f"volume must be a finite, non-negative number of litres, got {value!r}")
    return d.quantize(ML, rounding=ROUND_HALF_UP)
