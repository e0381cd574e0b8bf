"""The reading as the pipeline holds it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    """One register reading; identity is (meter, ts_s)."""

    meter: str
    ts_s: int
    total_ml: int
    seq: int
    boot: int
    source: str = "device"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the pipeline refused, and why (docs/protocol.md reason codes)."""

    topic: str
    reason: str
    detail: str
    payload: bytes
    received_s: float
