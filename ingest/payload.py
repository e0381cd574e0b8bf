"""Parse and validate reading batches (docs/protocol.md, version 1)."""

from __future__ import annotations

import json
import time

from core.ids import METER_ID_RE
from core.readings import Reading
from core.units import BadVolume, ml_from_litres

MAX_PAYLOAD_BYTES = 8192
MAX_BATCH = 60
MIN_TS_S = 1577836800  # 2020-01-01T00:00:00Z
MAX_FUTURE_S = 300
MAX_TOTAL_L = 10**12


class PayloadError(ValueError):
    """A message that breaks the protocol; `reason` is one of the protocol's reason codes."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def meter_from_topic(topic: str, prefix: str = "wm/v1") -> str:
    """The meter id of a `{prefix}/{meter_id}/readings` topic."""
    head, _, rest = topic.partition(prefix + "/")
    meter, _, kind = rest.partition("/")
    if head or kind != "readings" or not METER_ID_RE.fullmatch(meter):
        raise PayloadError("bad_topic", f"topic {topic[:200]!r} is not {prefix}/<meter_id>/readings")
    return meter


def _total_ml(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError("schema", "total_l must be a number")
    try:
        ml = ml_from_litres(value, exact=True)
    except BadVolume as err:
        raise PayloadError("bad_total", f"total_l {value!r}: {err}") from err
    if not 0 <= ml <= MAX_TOTAL_L * 1000:
        raise PayloadError("bad_total", f"total_l must be 0..1e12 L, got {value!r}")
    return ml


def _int_field(obj: dict, key: str, lo: int, hi: int) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError("schema", f"{key} must be an integer")
    if not lo <= value <= hi:
        raise PayloadError("schema", f"{key} must be {lo}..{hi}, got {value}")
    return value


def parse_batch(
    topic: str, payload: bytes, now_s: float | None = None, prefix: str = "wm/v1"
) -> list[Reading]:
    """Readings of one `readings` message; raises PayloadError with the protocol's reason."""
    meter = meter_from_topic(topic, prefix)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversize", f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError("malformed", f"not UTF-8 JSON: {err}") from err
    if not isinstance(doc, dict):
        raise PayloadError("malformed", "payload is not a JSON object")
    if doc.get("v") != 1:
        raise PayloadError("unknown_version", f"protocol version {doc.get('v')!r} is not 1")
    if doc.get("meter") != meter:
        raise PayloadError(
            "meter_mismatch", f"payload meter {doc.get('meter')!r} is not topic meter {meter!r}"
        )
    boot = _int_field(doc, "boot", 0, 2**32 - 1)
    items = doc.get("r")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise PayloadError("schema", f"r must be a list of 1..{MAX_BATCH} readings")
    now = time.time() if now_s is None else now_s
    readings = []
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError("schema", "each reading must be an object")
        seq = _int_field(item, "seq", 0, 2**32 - 1)
        ts = item.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise PayloadError("schema", "ts must be an integer")
        if ts < MIN_TS_S or ts > now + MAX_FUTURE_S:
            raise PayloadError("bad_timestamp", f"ts {ts} is before 2020 or more than {MAX_FUTURE_S} s ahead")
        readings.append(Reading(meter, ts, _total_ml(item.get("total_l")), seq, boot))
    return readings
