"""How a reading is scored against the truth: exactly right, or within one unit of the last wheel."""

from __future__ import annotations

import numpy as np


def is_correct(read_units: int, value_units: float, n_wheels: int) -> bool:
    """Exact shown reading; when the last wheel is near halfway, either neighbouring digit counts."""
    modulus = 10**n_wheels
    shown = int(np.floor(value_units + 0.5)) % modulus
    if read_units == shown:
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
