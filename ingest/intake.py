"""What a worker subscribes to and how it turns a message into readings: the device protocol (v1) or
wmbusmeters JSON (wireless M-Bus). One worker (ack after write, retry, metrics, logs) serves both."""

from __future__ import annotations

from typing import Protocol

from core.readings import Reading
from ingest.payload import PayloadError, decode, meter_from_topic, parse_batch, readings_of


class Intake(Protocol):
    """A message format on MQTT."""

    tracks_state: bool  # readings carry seq and boot: classify them against the per-meter state

    def subscription(self) -> str:
        """The topic filter to subscribe to (before any $share prefix)."""

    def key(self, topic: str, payload: bytes) -> str:
        """The meter (or source) a message belongs to, for the flood limit and sharding; PayloadError."""

    def parse(self, topic: str, payload: bytes, now_s: float, key: str | None = None) -> list[Reading]:
        """The readings of one message (`key` as `key()` gave it, if known); PayloadError with a reason."""


class DeviceIntake:
    """Protocol v1 batches on `{prefix}/{meter_id}/readings` (docs/protocol.md)."""

    tracks_state = True

    def __init__(self, prefix: str = "wm/v1"):
        self.prefix = prefix

    def subscription(self) -> str:
        """`{prefix}/+/readings`."""
        return f"{self.prefix}/+/readings"

    def key(self, topic: str, payload: bytes) -> str:
        """The meter id in the topic."""
        return meter_from_topic(topic, self.prefix)

    def parse(self, topic: str, payload: bytes, now_s: float, key: str | None = None) -> list[Reading]:
        """The batch's readings (the topic's meter id checked once: `key` is it when given)."""
        if key is None:
            return parse_batch(topic, payload, now_s=now_s, prefix=self.prefix)
        return readings_of(key, decode(payload), now_s)


__all__ = ["DeviceIntake", "Intake", "PayloadError"]
