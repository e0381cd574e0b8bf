"""A message from the broker as the worker holds it: what the wire reads is what the pipeline judges."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Msg:
    """One PUBLISH received. `mid` is its QoS 1 packet id (0: QoS 0, nothing to acknowledge); `dup` a
    broker redelivery (not the meter's doing: the flood limit does not count it)."""

    topic: str
    payload: bytes
    received_s: float
    dup: bool = False
    mid: int = 0
