"""Check a photo reading against the meter's previous reading and the highest plausible flow."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A reading is rounded to its last wheel; allow that much jitter before calling a jump impossible.
SLACK_M3 = 0.001


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
