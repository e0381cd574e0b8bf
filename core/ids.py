"""Meter ids: 1-32 characters of [A-Za-z0-9_-] (safe in MQTT topics, URLs and InfluxDB tags unescaped)."""

from __future__ import annotations

import re

from core.errors import Invalid

METER_ID_MAX_LEN = 32
METER_ID_CHARS = "A-Za-z0-9_-"
# Anchored, for pydantic `pattern=` and OpenAPI; METER_ID_RE.fullmatch for code.
METER_ID_PATTERN = rf"^[{METER_ID_CHARS}]{{1,{METER_ID_MAX_LEN}}}$"
METER_ID_RE = re.compile(rf"[{METER_ID_CHARS}]{{1,{METER_ID_MAX_LEN}}}")
METER_ID_RULE = f"1-{METER_ID_MAX_LEN} characters of [{METER_ID_CHARS}]"


class BadMeterId(Invalid):
    """A meter id that breaks the rule."""


# The same characters as a string for str.strip: the ingest checks every message's topic, and a strip in C
# is several times cheaper than a regex match.
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def is_meter_id(value: object) -> bool:
    """Whether value is a valid meter id."""
    return isinstance(value, str) and 0 < len(value) <= METER_ID_MAX_LEN and not value.strip(_ID_CHARS)


def check_meter_id(value: object) -> str:
    """The id itself, or BadMeterId naming the rule (the value is cut to 64 characters in the message)."""
    if not is_meter_id(value):
        shown = value[:64] if isinstance(value, str) else type(value).__name__
        raise BadMeterId(f"meter id {shown!r} must be {METER_ID_RULE}")
    assert isinstance(value, str)
    return value
