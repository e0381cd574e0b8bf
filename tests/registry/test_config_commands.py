"""Signed config commands: the board applies the operator's, refuses forgeries, replays and other meters'."""

from __future__ import annotations

import json

import pytest

from devservices.provision import config_key
from registry.config_commands import BadCommand, meter_key, sign, verify

MASTER = b"k" * 32


def test_the_operator_signs_and_the_board_applies_once():
    key = meter_key(MASTER, "m-1")
    assert key.hex() == config_key(MASTER, "m-1")  # the key provisioning writes into site_config.json
    payload = sign(MASTER, "m-1", {"id": "c-1", "l_per_pulse": 0.5}, n=7)
    req = verify(payload, "m-1", key, last_n=6)
    assert (req["l_per_pulse"], req["id"], req["n"]) == (0.5, "c-1", 7)
    with pytest.raises(BadCommand, match="replayed"):
        verify(payload, "m-1", key, last_n=7)  # the same retained command again after a reboot


def test_forgeries_are_refused():
    key = meter_key(MASTER, "m-1")
    # issue 17: any client published {"l_per_pulse": 1000} on a config topic and the board applied it
    with pytest.raises(BadCommand, match="unsigned"):
        verify(b'{"v": 1, "id": "x", "l_per_pulse": 1000}', "m-1", key, last_n=0)
    good = json.loads(sign(MASTER, "m-1", {"l_per_pulse": 0.5}, n=3))
    tampered = {**good, "signed": good["signed"].replace("0.5", "1000")}
    with pytest.raises(BadCommand, match="bad signature"):
        verify(json.dumps(tampered).encode(), "m-1", key, last_n=0)
    with pytest.raises(BadCommand, match="bad signature"):  # signed with another meter's key
        verify(sign(MASTER, "m-2", {"l_per_pulse": 0.5}, n=3), "m-1", key, last_n=0)
    with pytest.raises(BadCommand, match="bad signature"):  # another master key
        verify(sign(b"x" * 32, "m-1", {"l_per_pulse": 0.5}, n=3), "m-1", key, last_n=0)
    with pytest.raises(BadCommand):
        verify(b"\xff", "m-1", key, last_n=0)
