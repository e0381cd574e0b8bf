"""wmbusmeters JSON (wireless M-Bus water meters) → our Reading, source "wmbus".

wmbusmeters publishes one JSON object per telegram, e.g.
`{"media":"water","meter":"iperl","name":"x","id":"12345678","total_m3":123.456,"timestamp":"2026-01-01T10:00:00Z"}`.
The meter id becomes `{prefix}{id}`; `timestamp` is when wmbusmeters received the telegram (UTC).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from core.ids import METER_ID_RE, METER_ID_RULE
from core.readings import Reading, Source
from core.units import ML_PER_L, BadVolume, ml_from_m3
from ingest.payload import MAX_FUTURE_S, MAX_TOTAL_L, MIN_TS_S, PayloadError

WATER_MEDIA = frozenset({"water", "cold water", "warm water", "hot water"})
MAX_PAYLOAD_BYTES = 16384


class WmbusError(PayloadError):
    """A message that is not a usable wmbusmeters water reading; `reason` is a short code."""


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
        ml = ml_from_m3(value)
    except BadVolume as err:
        raise WmbusError("bad_total", f"total_m3 {value!r} is not a finite number") from err
    if value < 0 or ml > MAX_TOTAL_L * ML_PER_L:
        raise WmbusError("bad_total", f"total_m3 must be 0..{MAX_TOTAL_L // 1000} m³, got {value!r}")
    return ml


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
        raise WmbusError("schema", f"meter id {meter[:64]!r} must be {METER_ID_RULE}")
    if "total_m3" not in doc:
        raise WmbusError("missing_total", "total_m3 is missing")
    total_ml = _total_ml(doc["total_m3"])
    if "timestamp" not in doc:
        raise WmbusError("bad_timestamp", "timestamp is missing")
    ts = _timestamp(doc["timestamp"])
    now = time.time() if now_s is None else now_s
    if ts < MIN_TS_S or ts > now + MAX_FUTURE_S:
        raise WmbusError("bad_timestamp", f"timestamp {doc['timestamp']!r} is before 2020 or in the future")
    # No sequence or boot counter in wmbusmeters' JSON: 0 for both (the rule ignores boots of non-device
    # readings, and the per-meter state is not kept for them).
    return Reading(meter, ts, total_ml, 0, 0, Source.WMBUS)


class WmbusIntake:
    """wmbusmeters' JSON on a topic filter; meter ids are `{prefix}{id}` from the payload."""

    tracks_state = False  # no seq or boot: nothing to classify

    def __init__(self, topic: str = "wmbusmeters/#", prefix: str = ""):
        self.topic = topic
        self.prefix = prefix

    def subscription(self) -> str:
        """The configured topic filter."""
        return self.topic

    def key(self, topic: str, payload: bytes) -> str:
        """The topic (wmbusmeters publishes one per meter or per name)."""
        return topic

    def parse(self, topic: str, payload: bytes, now_s: float, key: str | None = None) -> list[Reading]:
        """The one reading of a telegram."""
        return [parse_wmbus(payload, now_s=now_s, prefix=self.prefix)]
