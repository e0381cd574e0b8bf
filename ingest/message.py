"""A message from the broker as the worker holds it: what the wire reads is what the pipeline judges."""

from __future__ import annotations


class Msg:
    """One PUBLISH received. `mid` is its QoS 1 packet id (0: QoS 0, nothing to acknowledge); `dup` a
    broker redelivery (not the meter's doing: the flood limit does not count it).

    A plain class, not a dataclass: one is made per message, and compiled (ingest/compiled.py) a
    dataclass keeps its generated `__init__` in Python."""

    __slots__ = ("topic", "payload", "received_s", "dup", "mid")

    def __init__(
        self, topic: str, payload: bytes, received_s: float, dup: bool = False, mid: int = 0
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.received_s = received_s
        self.dup = dup
        self.mid = mid

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return (self.topic, self.payload, self.received_s, self.dup, self.mid) == (
            other.topic, other.payload, other.received_s, other.dup, other.mid,
        )  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass's

    def __repr__(self) -> str:
        return (
            f"Msg(topic={self.topic!r}, payload={self.payload!r}, received_s={self.received_s!r}, "
            f"dup={self.dup!r}, mid={self.mid!r})"
        )
