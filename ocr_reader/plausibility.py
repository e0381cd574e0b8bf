"""Check a photo reading against the meter's previous reading and the highest plausible flow."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A reading is rounded to its last wheel; allow that much jitter before calling a jump impossible.
SLACK_M3 = 0.001
# A household's water meter passes a few hundred m3 a year, its gas meter a few thousand: a photo read
# as a million m3 or more shows a serial number taken for the counter, or decimal wheels taken for whole
# ones (a render of 896591.41 read as 89,659,141 m3), not a household register.
HOUSEHOLD_MAX_M3 = 1_000_000.0
# A household water or gas meter's counter has 4-6 black (whole m3) wheels before its red ones.
HOUSEHOLD_MIN_WHOLE_WHEELS = 4
HOUSEHOLD_MAX_WHOLE_WHEELS = 6


def household_counter(whole_wheels: int, decimal_wheels: int, value_m3: float) -> bool:
    """True when a counter of whole_wheels black and decimal_wheels red wheels showing value_m3 is one a
    household meter could have (what the reader doubts otherwise: `pipeline.FEW_BLACK_DOUBT`,
    `LARGE_DOUBT`, `UNSEEN_DECIMALS_DOUBT`). The project's renderer also draws others (1-3 black wheels
    before red ones, 7-8 black ones and none red, values up to 10^8 m3); its benches and tests report
    acceptance on the household ones."""
    return (
        not leading_wheels_lost(whole_wheels, decimal_wheels)
        and not beyond_household_range(value_m3)
        and not decimals_unseen(whole_wheels, decimal_wheels, value_m3)
    )


def leading_wheels_lost(whole_wheels: int, decimal_wheels: int) -> bool:
    """True when red (decimal) wheels follow fewer black ones than a household counter has
    (HOUSEHOLD_MIN_WHOLE_WHEELS): black wheels were lost (a cut gone wrong, the leading wheels outside the
    row found), however surely the rest is read."""
    return decimal_wheels > 0 and whole_wheels < HOUSEHOLD_MIN_WHOLE_WHEELS


def decimals_unseen(
    whole_wheels: int, decimal_wheels: int, value_m3: float, previous_m3: float | None = None
) -> bool:
    """True when a counter read as more whole wheels than a household meter has (HOUSEHOLD_MAX_WHOLE_WHEELS)
    and no decimal ones: its decimal wheels were most likely not seen as such (red faded or lit grey, a
    printed comma), and the reading is 10-1000 times the register's. Unless the meter's previous reading
    settles the magnitude: a point missed by one wheel or more makes the value at least 10 times the true
    reading, itself at least the previous one, so a value under 10 times the previous one cannot be that.
    (00896.591 read with its red wheels taken for black ones is 896,591 m3, under HOUSEHOLD_MAX_M3.)"""
    if decimal_wheels > 0 or whole_wheels <= HOUSEHOLD_MAX_WHOLE_WHEELS:
        return False
    return previous_m3 is None or value_m3 >= 10 * previous_m3


def beyond_household_range(value_m3: float, previous_m3: float | None = None) -> bool:
    """True when value_m3 is more than a household meter holds (HOUSEHOLD_MAX_M3), unless the meter's
    previous reading was as large (a building's bulk meter, known by its history)."""
    if previous_m3 is not None and previous_m3 >= HOUSEHOLD_MAX_M3:
        return False
    return value_m3 >= HOUSEHOLD_MAX_M3


@dataclass(frozen=True)
class Plausibility:
    """Outcome of a plausibility check: ok, or the reason it is not."""

    ok: bool
    reason: str | None = None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"ok": self.ok, "reason": self.reason}


def check_plausibility(
    value_m3: float,
    previous_m3: float | None,
    elapsed_s: float | None,
    max_flow_m3_per_h: float = 3.0,
) -> Plausibility:
    """Flag a reading lower than the previous one, or higher than max flow since then allows."""
    for name, v in (("value_m3", value_m3), ("previous_m3", previous_m3), ("elapsed_s", elapsed_s)):
        if v is not None and not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
    if value_m3 < 0:
        raise ValueError(f"value_m3 must be >= 0 m3, got {value_m3}")
    if max_flow_m3_per_h <= 0 or not math.isfinite(max_flow_m3_per_h):
        raise ValueError(f"max_flow_m3_per_h must be > 0 m3/h, got {max_flow_m3_per_h}")
    if elapsed_s is not None and elapsed_s < 0:
        raise ValueError(f"elapsed_s must be >= 0 s, got {elapsed_s}")
    if previous_m3 is None:
        return Plausibility(True)
    if value_m3 < previous_m3 - SLACK_M3:
        return Plausibility(False, "lower_than_previous")
    if elapsed_s is None:
        return Plausibility(True)
    max_increase_m3 = max_flow_m3_per_h * elapsed_s / 3600.0
    if value_m3 - previous_m3 > max_increase_m3 + SLACK_M3:
        return Plausibility(False, "impossible_jump")
    return Plausibility(True)
