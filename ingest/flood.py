"""Per-meter flood limit: a token bucket per meter id, bounded in memory."""

from __future__ import annotations

from collections import OrderedDict


class FloodLimit:
    """Allow `burst_msgs` messages at once per meter, refilled at `rate_per_s`; refuse the rest.

    A healthy meter sends one message per interval and, after its own outage, replays
    its buffer (1,440 readings in batches of 60 = 24 messages); after a store outage
    the broker's backlog for it arrives at once. The defaults (1000, 1/s) refuse
    neither; broker redeliveries (DUP) are not counted (see the worker). Only the
    `max_meters` most recently seen meters are tracked; a meter evicted from that
    table simply starts again with a full bucket.
    """

    def __init__(self, burst_msgs: int, rate_per_s: float, max_meters: int = 2_000_000):
        self.burst = float(burst_msgs)
        self.rate_per_s = rate_per_s
        self.max_meters = max_meters
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, meter: str, now_s: float) -> bool:
        """Take one token for meter at now_s; False when its bucket is empty."""
        tokens, last_s = self._buckets.pop(meter, (self.burst, now_s))
        tokens = min(self.burst, tokens + max(0.0, now_s - last_s) * self.rate_per_s)
        ok = tokens >= 1.0
        self._buckets[meter] = (tokens - 1.0 if ok else tokens, now_s)
        if len(self._buckets) > self.max_meters:
            self._buckets.popitem(last=False)
        return ok
