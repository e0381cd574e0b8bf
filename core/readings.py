"""The reading as every part of the system holds it, and the rejection of a message that broke the rules.

A reading's identity is (meter, ts_s). `source` says where the total comes from; a photo reading also
carries the recogniser's `confidence` (0..1) as its own field. Stored data written before the fields
were split says `photo:<confidence>` in one string: `parse_source` still reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from core.errors import Invalid


class Source(StrEnum):
    """Where a register total comes from."""

    DEVICE = "device"  # the meter's own board (protocol v1): has seq and boot counters
    PHOTO = "photo"  # a photo read by ocr_reader (with confidence) or keyed in from one
    MANUAL = "manual"  # an operator's reading or replacement
    ESTIMATE = "estimate"  # VEE's estimate for a gap
    LIFECYCLE = "lifecycle"  # install/removal read recorded with a lifecycle event
    WMBUS = "wmbus"  # a wireless M-Bus telegram via wmbusmeters


BOOTED_SOURCES = frozenset({Source.DEVICE})  # sources whose `boot` is a real boot counter


class BadSource(Invalid):
    """A source text no version of the system wrote."""


def parse_source(text: str) -> tuple[Source, float | None]:
    """(source, confidence) from a stored source text; understands the old `photo:<confidence>`."""
    head, sep, tail = text.partition(":")
    try:
        source = Source(head)
    except ValueError as err:
        raise BadSource(f"unknown reading source {text[:40]!r}") from err
    if not sep:
        return source, None
    try:
        conf = float(tail)
    except ValueError:
        return source, None
    return source, conf if 0.0 <= conf <= 1.0 else None


class Reading(NamedTuple):
    """One register reading; identity is (meter, ts_s). Totals are integer millilitres. Immutable.

    A named tuple, not a frozen dataclass: the ingest makes one per reading it receives, and a frozen
    dataclass's `__init__` (one `object.__setattr__` per field) cost 5x as much (docs/ingest.md).
    """

    meter: str
    ts_s: int
    total_ml: int
    seq: int
    boot: int
    source: Source = Source.DEVICE
    confidence: float | None = None  # photo readings: the recogniser's confidence, 0..1

    @property
    def has_boot(self) -> bool:
        """Whether `boot` is a device boot counter (other sources carry 0)."""
        return self.source in BOOTED_SOURCES


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the pipeline refused, and why (docs/protocol.md reason codes)."""

    topic: str
    reason: str
    detail: str
    payload: bytes
    received_s: float
