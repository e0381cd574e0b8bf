"""Signed config commands to meters (docs/protocol.md, "Config request"): who may change a board's settings.

The broker lets only the operator's account publish on `wm/v1/<meter>/config` (devservices/acl.py); the
board checks too, because an ACL is one mistake away from open and a retained message outlives it. Each
command is an envelope `{"v": 1, "signed": "<the request as JSON text>", "sig": "<hex>"}` where
`sig` = HMAC-SHA256(meter key, the bytes of `signed`). The request names its meter and carries `n`, a
number the board must see grow (it keeps the last accepted `n` in flash), so a command is accepted by one
meter, once. The meter key is HMAC-SHA256(master key, "wm-config:" + meter id): the operator keeps one
master key, each board only its own key (`config_key` in its site config, devservices/provision.py).
HMAC-SHA256 needs only `hashlib.sha256` on the board (MicroPython has it); a public-key signature would
need code MicroPython does not ship.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from core.errors import Invalid
from core.ids import check_meter_id

SIG_HEX_LEN = 64


class BadCommand(Invalid):
    """A config command the board must refuse (the message says why)."""


def meter_key(master_key: bytes, meter_id: str) -> bytes:
    """The meter's 32-byte key."""
    return hmac.new(master_key, f"wm-config:{check_meter_id(meter_id)}".encode(), hashlib.sha256).digest()


def sign(master_key: bytes, meter_id: str, request: dict, n: int) -> bytes:
    """The payload to publish (retained, QoS 1) on the meter's config topic."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BadCommand("n must be a positive integer that grows with every command")
    body = {**request, "v": 1, "meter": meter_id, "n": n}
    signed = json.dumps(body, separators=(",", ":"), sort_keys=True)
    sig = hmac.new(meter_key(master_key, meter_id), signed.encode(), hashlib.sha256).hexdigest()
    return json.dumps({"v": 1, "signed": signed, "sig": sig}, separators=(",", ":")).encode()


def verify(payload: bytes, meter_id: str, key: bytes, last_n: int) -> dict:
    """The request if the board may apply it (what the firmware does; BadCommand otherwise)."""
    try:
        env = json.loads(payload)
    except ValueError as err:
        raise BadCommand("not JSON") from err
    if not isinstance(env, dict) or env.get("v") != 1 or type(env.get("v")) is not int:
        raise BadCommand("not a version 1 envelope")
    signed, sig = env.get("signed"), env.get("sig")
    if not isinstance(signed, str) or not isinstance(sig, str) or len(sig) != SIG_HEX_LEN:
        raise BadCommand("unsigned command")
    want = hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        raise BadCommand("bad signature")
    request = json.loads(signed)
    if request.get("meter") != meter_id:
        raise BadCommand("command for another meter")
    n = request.get("n")
    if type(n) is not int or n <= last_n:
        raise BadCommand(f"replayed or stale command (n {n!r} <= last {last_n})")
    return request
