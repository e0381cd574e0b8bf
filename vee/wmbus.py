"""wmbusmeters JSON (wireless M-Bus water meters) → our Reading, source "wmbus".

wmbusmeters publishes one JSON object per telegram, e.g.
`{"media":"water","meter":"iperl","name":"x","id":"12345678","total_m3":123.456,"timestamp":"2026-01-01T10:00:00Z"}`.
The meter id becomes `{prefix}{id}`; `timestamp` is when wmbusmeters received the telegram (UTC).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ingest.model import Reading
from ingest.payload import MAX_FUTURE_S, MAX_TOTAL_L, MIN_TS_S

SOURCE = "wmbus"
WATER_MEDIA = frozenset({"water", "cold water", "warm water", "hot water"})
METER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_PAYLOAD_BYTES = 16384


class WmbusError(ValueError):
    """A message that is not a usable wmbusmeters water reading; `reason` is a short code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _timestamp(value: object) -> int:
    if not isinstance(value, str):
        raise WmbusError("bad_timestamp", "timestamp must be an ISO-8601 string")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise WmbusError("bad_timestamp", f"timestamp {value[:64]!r} is not ISO-8601") from err
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)  # wmbusmeters writes UTC by default
    return int(t.timestamp())


def _total_ml(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WmbusError("missing_total", "total_m3 must be a number")
    try:
        m3 = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as err:
        raise WmbusError("bad_total", f"total_m3 {value!r} is not a finite number") from err
    if not m3.is_finite() or m3 < 0 or m3 * 1000 > MAX_TOTAL_L:
        raise WmbusError("bad_total", f"total_m3 must be 0..{MAX_TOTAL_L // 1000} m³, got {value!r}")
    return int((m3 * 1_000_000).to_integral_value())


def parse_wmbus(payload: bytes | str, now_s: float | None = None, prefix: str = "") -> Reading:
    """One Reading from one wmbusmeters message; raises WmbusError with a reason."""
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise WmbusError("oversize", f"payload is {len(raw)} bytes, limit {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise WmbusError("malformed", f"not UTF-8 JSON: {err}") from err
    if not isinstance(doc, dict):
        raise WmbusError("malformed", "payload is not a JSON object")
    media = doc.get("media")
    if not isinstance(media, str) or media.lower() not in WATER_MEDIA:
        raise WmbusError("not_water", f"media {media!r} is not a water meter")
    ident = doc.get("id")
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        raise WmbusError("schema", "id must be a string")
    meter = f"{prefix}{ident}"
    if not METER_ID_RE.fullmatch(meter):
        raise WmbusError("schema", f"meter id {meter[:64]!r} must be 1-32 of [A-Za-z0-9_-]")
    if "total_m3" not in doc:
        raise WmbusError("missing_total", "total_m3 is missing")
    total_ml = _total_ml(doc["total_m3"])
    if "timestamp" not in doc:
        raise WmbusError("bad_timestamp", "timestamp is missing")
    ts = _timestamp(doc["timestamp"])
    now = time.time() if now_s is None else now_s
    if ts < MIN_TS_S or ts > now + MAX_FUTURE_S:
        raise WmbusError("bad_timestamp", f"timestamp {doc['timestamp']!r} is before 2020 or in the future")
    # No sequence or boot counter in wmbusmeters' JSON: 0 for both (VEE skips order checks on them).
    return Reading(meter, ts, total_ml, 0, 0, SOURCE)
