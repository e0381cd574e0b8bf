"""How a reading is scored against the truth: exactly right, or within one unit of the last wheel."""

from __future__ import annotations

import numpy as np


def is_correct(read_units: int, value_units: float, n_wheels: int) -> bool:
    """The shown reading, or the register's whole units (what it has fully counted, as a meter reader
    writes whole m3 down: 5048.74 is 5048); when the last wheel is near halfway, either digit counts."""
    modulus = 10**n_wheels
    shown = int(np.floor(value_units + 0.5)) % modulus
    if read_units in (shown, int(np.floor(value_units)) % modulus):
        return True
    frac = value_units - np.floor(value_units)
    return abs(frac - 0.5) < 0.2 and read_units in {
        int(np.floor(value_units)) % modulus,
        int(np.ceil(value_units)) % modulus,
    }


def within_one(read_units: int, value_units: float, n_wheels: int) -> bool:
    """Reading within one last-wheel unit of the shown reading (modulo the counter's wrap)."""
    modulus = 10**n_wheels
    shown = int(np.floor(value_units + 0.5)) % modulus
    diff = (read_units - shown) % modulus
    return diff in (0, 1, modulus - 1)


def whole_units(value_units: float, dropped: int) -> float:
    """A truth in last-wheel units as the position of the wheel `dropped` wheels before the last.

    The scoring of a reading that left its last `dropped` (decimal) wheels out. Odometer gearing: a
    wheel stands at its digit and moves only while the wheel after it passes from 9 to 0, so
    1362.48 gives 1362.0, 3293.95 gives 3293.0 (the tenths wheel waits at 9 until the hundredths pass
    9) and 3293.9995 gives 3293.5.
    """
    if dropped <= 0:
        return value_units
    higher = int(np.floor(value_units / 10))  # the wheels above the last, as a number
    pos = value_units - 10 * higher  # the last wheel's position, 0..10
    for _ in range(dropped):
        pos = higher % 10 + max(0.0, pos - 9)
        higher //= 10
    return higher * 10 + pos


def integer_digits(reading: str, n_integer: int) -> str:
    """A reading's integer wheels' digits ("02940.12" with 5 integer wheels: "02940")."""
    return reading.replace(".", "")[:n_integer]
