"""The light meter model: protocol-exact payloads, bounded buffer, config handled like the firmware."""

from __future__ import annotations

import json

import pytest

from hardware_sim.household import PulseSource
from hardware_sim.light_meter import LightMeter
from ingest.payload import PayloadError, parse_batch
from tests.hardware_sim.conftest import ScriptedFlow, sim_start

START = sim_start(days_ago=1)


def _meter(flow_lph: float = 600.0, **kw) -> LightMeter:
    pulses = PulseSource(ScriptedFlow([(0, 10**7)], flow_lph), 1)  # 1 ml pulses
    return LightMeter("lm-1", pulses, START, draw_until_s=10**7, l_per_pulse=0.001, **kw)


def test_batches_parse_with_the_ingest_and_hold_exact_millilitres():
    m = _meter(flow_lph=1234.567)
    for t in range(0, 3601, 60):
        m.take_reading(t)
    payload, n = m.next_batch()
    assert n == 60 and m.next_batch() is None, "one batch in flight at a time, at most 60 readings"
    readings = parse_batch("wm/v1/lm-1/readings", payload, now_s=START + 3600)
    assert [r.ts_s for r in readings] == list(range(START, START + 3600, 60))
    assert [r.seq for r in readings] == list(range(1, 61))
    doc = json.loads(payload)
    assert doc["boot"] == 1 and doc["meter"] == "lm-1"
    texts = payload.decode().split('"total_l":')[1:]
    assert all(len(t.split("}")[0].partition(".")[2]) == 3 for t in texts), "three decimals, always"
    assert readings[-1].total_ml == m.buffer[59][3] == int(1234.567 * 3540 / 3.6)
    m.acked()
    payload, n = m.next_batch()
    assert n == 1 and parse_batch("wm/v1/lm-1/readings", payload, now_s=START + 3600)[0].seq == 61


def test_full_buffer_drops_oldest_unsent_and_counts():
    m = _meter(buffer_max=100)
    m.take_reading(0)
    m.next_batch()  # seq 1 is on the wire: it must not be dropped under it
    for t in range(60, 130 * 60, 60):
        m.take_reading(t)
    assert len(m.buffer) == 100 and m.dropped == 30  # 130 readings, 100 slots
    assert m.buffer[0][0] == 1 and m.buffer[1][0] == 32, "the oldest not yet sent went first"


def test_config_set_total_starts_a_new_boot_and_bad_requests_are_rejected_whole():
    m = _meter()
    m.take_reading(0)
    assert m.apply_config(b'{"v": 1, "id": "c-1", "set_total_l": "5000.25"}', 120)
    assert m.boot == 2 and m.total_ml >= 5_000_250 and m.config_result == {"id": "c-1", "ok": True}
    assert not m.apply_config(b'{"v": 1, "id": "c-1", "set_total_l": "5000.25"}', 180), "applied once"
    assert m.apply_config(b'{"v": 1, "id": "c-2", "interval_s": 5, "set_total_l": 1}', 180)
    assert m.config_result == {"id": "c-2", "ok": False, "error": "interval_s must be 10..3600 s"}
    assert m.boot == 2 and m.interval_s == 60, "nothing of a bad request is applied"
    assert m.apply_config(b"not json", 200) and m.config_result["ok"] is False
    assert m.apply_config(b'{"v": 1, "id": "c-3", "interval_s": 900}', 200)
    due = m.next_due_s(200)
    assert (START + due) % 900 == 0 and 200 < due <= 1100, "next reading on a 15-minute boundary"
    boots = [r[2] for r in m.buffer]
    assert boots == sorted(boots) and boots[-1] == 2


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"interval_s": 5}, "interval_s must be 10..3600 s"),
        ({"max_batch": 61}, "max_batch must be 1..60 readings"),
        ({"buffer_max": 10}, "buffer_max must hold at least one batch"),
    ],
)
def test_bad_light_meter_settings_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _meter(**kw)


def test_ingest_rejects_a_tampered_light_payload():
    """Sanity of the check above: the ingest does refuse a 4-decimal total."""
    with pytest.raises(PayloadError):
        parse_batch(
            "wm/v1/lm-1/readings",
            b'{"v":1,"meter":"lm-1","boot":1,"r":[{"seq":1,"ts":%d,"total_l":1.0001}]}' % START,
            now_s=START,
        )


def test_an_unreachable_broker_is_a_clear_error_not_a_hang():
    from hardware_sim.light_fleet import LightFleet, LightLinkConfig

    fleet = LightFleet([_meter()], LightLinkConfig("127.0.0.1", 9, connect_timeout_s=1.0), stop_s=600)
    fleet.start()
    fleet.join(timeout=10)
    assert not fleet.running
    assert fleet.error and "1 light meters never connected to the broker" in fleet.error
    assert "connect failed" in fleet.error
