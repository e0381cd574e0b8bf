"""Money: Decimal yuan, always quantized to the fen (ROUND_HALF_UP). Never a float.

Prices are exact decimals in yuan per m³ as the utility publishes them (core/tariffs.json).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import Invalid

FEN = Decimal("0.01")
MAX_AMOUNT_YUAN = Decimal("1000000")


class AmountError(Invalid):
    """An amount that is not a finite decimal with at most 2 places, or is out of limits."""


def yuan(value: Decimal | int | str) -> Decimal:
    """Round to the fen, half up."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def fen(value: Decimal) -> int:
    """Whole fen of an amount in yuan (rounded half up first)."""
    return int(yuan(value) * 100)


def parse_amount(
    raw: str | int | Decimal, *, positive: bool = True, max_yuan: Decimal = MAX_AMOUNT_YUAN
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
