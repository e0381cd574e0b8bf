"""Parse and validate reading batches (docs/protocol.md, version 1), strictly: the hot path of the ingest.

Strict means: `v` is the integer 1 (`true` and `1.0` are refused), readings ascend by `seq` and by `ts`,
and no two readings of a batch share a `ts` (a reading's identity is (meter, ts): two totals for one
instant in one message cannot both be true).
"""

from __future__ import annotations

import time

import orjson
from mypy_extensions import mypyc_attr

from core.ids import is_meter_id
from core.readings import Reading, Source
from core.units import BadVolume, ml_from_litres

MAX_PAYLOAD_BYTES = 8192
MAX_BATCH = 60
MIN_TS_S = 1577836800  # 2020-01-01T00:00:00Z
MAX_FUTURE_S = 300
MAX_TOTAL_L = 10**12
MAX_TOTAL_ML = MAX_TOTAL_L * 1000
MAX_U32 = 2**32 - 1
_new = tuple.__new__  # Reading(...) without its Python-level __new__: the ingest makes one per reading
_DEVICE = Source.DEVICE


@mypyc_attr(allow_interpreted_subclasses=True)  # the wM-Bus intake's error (ingest.wmbus) is one
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
    if head or kind != "readings" or not is_meter_id(meter):
        raise PayloadError("bad_topic", f"topic {topic[:200]!r} is not {prefix}/<meter_id>/readings")
    return meter


def _total_ml(value: object) -> int:
    # Fast path for the JSON number types; anything odd goes through the one rule in core.units.
    ml: int
    if type(value) is int:
        ml = value * 1000
    elif type(value) is float:
        ml = int(value * 1000 + 0.5) if value >= 0 else -1
        if ml >= 0 and ml / 1000 != value:  # more than 3 decimals: core.units says why
            try:
                ml_from_litres(value, exact=True)
            except BadVolume as err:
                raise PayloadError("bad_total", f"total_l {value!r}: {err}") from err
    else:
        raise PayloadError("schema", "total_l must be a number")
    if not 0 <= ml <= MAX_TOTAL_ML:
        raise PayloadError("bad_total", f"total_l must be 0..1e12 L, got {value!r}")
    return ml


def _int_field(obj: dict, key: str, lo: int, hi: int) -> int:
    value = obj.get(key)
    if type(value) is not int:  # bool is an int subclass: refused too
        raise PayloadError("schema", f"{key} must be an integer")
    if not lo <= value <= hi:
        raise PayloadError("schema", f"{key} must be {lo}..{hi}, got {value}")
    return value


def decode(payload: bytes) -> dict:
    """The JSON object of a payload, or PayloadError (`oversize`, `malformed`)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversize", f"payload is {len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as err:  # also not UTF-8, NaN, Infinity, integers over 64 bits
        raise PayloadError("malformed", f"not UTF-8 JSON: {err}") from err
    if type(doc) is not dict:
        raise PayloadError("malformed", "payload is not a JSON object")
    return doc


def parse_batch(
    topic: str, payload: bytes, now_s: float | None = None, prefix: str = "wm/v1"
) -> list[Reading]:
    """Readings of one `readings` message; raises PayloadError with the protocol's reason."""
    meter = meter_from_topic(topic, prefix)
    return readings_of(meter, decode(payload), time.time() if now_s is None else now_s)


def readings_of(meter: str, doc: dict, now_s: float) -> list[Reading]:
    """The readings of a decoded batch of `meter` (the topic's meter id), checked."""
    v = doc.get("v")
    if type(v) is not int or v != 1:
        raise PayloadError("unknown_version", f"protocol version {v!r} is not the integer 1")
    if doc.get("meter") != meter:
        raise PayloadError(
            "meter_mismatch", f"payload meter {str(doc.get('meter'))[:64]!r} is not topic meter {meter!r}"
        )
    boot = doc.get("boot")
    if type(boot) is not int or not 0 <= boot <= MAX_U32:  # the common case in one test
        boot = _int_field(doc, "boot", 0, MAX_U32)
    items = doc.get("r")
    if type(items) is not list or not 1 <= len(items) <= MAX_BATCH:
        raise PayloadError("schema", f"r must be a list of 1..{MAX_BATCH} readings")
    latest_ts = now_s + MAX_FUTURE_S
    readings = []
    prev_seq = prev_ts = -1
    for item in items:
        if type(item) is not dict:
            raise PayloadError("schema", "each reading must be an object")
        seq = item.get("seq")
        if type(seq) is not int or not 0 <= seq <= MAX_U32:  # the common case in one test
            seq = _int_field(item, "seq", 0, MAX_U32)
        ts = item.get("ts")
        if type(ts) is not int:
            raise PayloadError("schema", "ts must be an integer")
        if ts < MIN_TS_S or ts > latest_ts:
            raise PayloadError("bad_timestamp", f"ts {ts} is before 2020 or more than {MAX_FUTURE_S} s ahead")
        if seq <= prev_seq or ts <= prev_ts:
            raise PayloadError(
                "bad_order",
                f"readings must ascend by seq and ts with no ts twice: seq {seq} ts {ts} "
                f"after seq {prev_seq} ts {prev_ts}",
            )
        prev_seq, prev_ts = seq, ts
        readings.append(_new(Reading, (meter, ts, _total_ml(item.get("total_l")), seq, boot, _DEVICE, None)))
    return readings
