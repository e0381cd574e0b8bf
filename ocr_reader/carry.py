"""Resolve wheel positions into a reading with the odometer carry rule (see docs/ocr.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# An upper wheel this far from where the wheels below say it must be is a misread.
MAX_RESIDUAL = 0.35


@dataclass
class Resolved:
    """Digits as shown (most significant first) and whether the wheels agree with each other."""

    digits: list[int]
    positions: list[float]  # carry-consistent positions
    residuals: list[float]  # |estimated - consistent| per wheel, in digits
    consistent: bool


def circ(a: float) -> float:
    """Signed circular difference on a 10-digit wheel or dial, in -5..5."""
    return (a + 5.0) % 10.0 - 5.0


def settle(positions: list[float], carried: Callable[[float], float]) -> tuple[list[float], list[float]]:
    """Consistent positions and |estimate - consistent| per element, resolved right to left.

    The last element is trusted as estimated; every other one is its own whole digit plus what
    `carried(position of the one to its right)` says it must have turned by.
    """
    n = len(positions)
    consistent = [0.0] * n
    residuals = [0.0] * n
    below = None
    for i in range(n - 1, -1, -1):
        est = positions[i] % 10.0
        if below is None:
            q = est
        else:
            extra = carried(below)
            q = ((round(est - extra) % 10) + extra) % 10.0
        consistent[i] = q
        residuals[i] = abs(circ(est - q))
        below = q
    return consistent, residuals


HALF_WAY = (0.3, 0.7)  # a wheel whose position's fraction lies strictly inside this is half way


def _digit(q: float, half_down: bool) -> int:
    frac = q - math.floor(q)
    if half_down and HALF_WAY[0] + 1e-9 < frac < HALF_WAY[1] - 1e-9:
        return math.floor(q) % 10
    return int(round(q)) % 10


def resolve(positions: list[float], half_down: bool = False) -> Resolved:
    """Apply the carry rule right to left.

    The last wheel turns freely: its position is trusted as estimated. Every other wheel turns
    only while the wheel right of it passes from 9 to 0, by the same fraction. So an upper wheel's
    whole digit is round(estimate - fraction carried in), its consistent position is that digit
    plus the fraction, and the digit shown is the one nearest the window centre.

    half_down: a wheel half way between two digits (HALF_WAY) shows the lower one, as a meter reader
    writes down whole m3 (686.55 m3 is 686 whole m3). For a row whose last wheel is its last whole-m3
    wheel (no decimal wheels after it): nearest-the-centre makes such a reading a coin toss on the
    position's last hundredth. Near a digit the nearest one is kept (a wheel standing at 7 read 6.97).
    """
    consistent_pos, residuals = settle(positions, lambda below: below - 9.0 if below >= 9.0 else 0.0)
    digits = [_digit(q, half_down) for q in consistent_pos]
    return Resolved(digits, consistent_pos, residuals, all(r <= MAX_RESIDUAL for r in residuals))


LAST_WHEEL_SHIFTS = (-0.5, 0.5, -1.0, 1.0)  # digits: a rolling last wheel is misread by about this much


def resolve_nearest_consistent(positions: list[float], half_down: bool = False) -> Resolved:
    """resolve(), or when the wheels disagree with the carry rule, the closest consistent reading.

    A rolling last wheel half way between two digits is the recogniser's commonest misread (8.5 read
    as 9.5: the wheel above it, standing still, says the last one has not passed 9). The last wheel
    moved by half a digit or one digit that makes every wheel consistent is taken instead, the
    smallest move first; the result still says `consistent=False` (it is a guess for a reviewer).
    """
    res = resolve(positions, half_down)
    if res.consistent or not positions:
        return res
    for shift in LAST_WHEEL_SHIFTS:
        moved = resolve(list(positions[:-1]) + [(positions[-1] + shift) % 10.0], half_down)
        if moved.consistent:
            return Resolved(moved.digits, moved.positions, res.residuals, False)
    return res
