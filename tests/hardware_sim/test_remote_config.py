"""Remote configuration through the broker: validated on the device, applied once, result on status."""

from __future__ import annotations

import json
import time

from hardware_sim.faults import Fault
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, StatusLog, make_board, publish, sim_start

H = 3600


def test_config_requests_through_the_broker(mosquitto, pipeline, tmp_path):
    port = mosquitto.port
    topic = "wm/v1/cfg-1/config"
    status = StatusLog(port)
    discovery = StatusLog(port, "homeassistant/sensor/+/total/config")

    def send(doc):
        def call(_board):
            publish(port, topic, doc if isinstance(doc, str) else json.dumps(doc))
            # Let the broker hand it to the board before virtual time moves on: 0.2 s was too short on a
            # loaded 2-core machine (the request landed after the watchdog reset; boots came out {3, 4}).
            time.sleep(1.0)

        return call

    # Water flows for the first 1.5 h and in hour 3-4; the configuration changes in the quiet between.
    flow = ScriptedFlow([(0, 1.5 * H), (3 * H, 4 * H)], flow_lph=60.0)
    faults = [
        Fault(2 * H, "call", send({"v": 1, "id": "c-1", "interval_s": 5})),  # out of range
        Fault(2 * H + 300, "call", send("not json")),
        Fault(2 * H + 600, "call", send({"v": 1, "id": "c-2", "l_per_pulse": 1.0, "colour": "red"})),
        Fault(2 * H + 900, "call", send({"v": 1, "id": "c-3", "l_per_pulse": 1.0})),
        Fault(2 * H + 1200, "call", send({"v": 1, "id": "c-4", "set_total_l": "1000.5", "interval_s": 300})),
        # The set_total request stays retained: it comes back on every reconnect and must not apply again.
        Fault(2.5 * H, "watchdog"),
        Fault(2.75 * H, "power_loss"),
    ]
    start = sim_start(days_ago=1)
    board = make_board(tmp_path, "cfg-1", port, start, 5 * H, faults=faults, household=flow, drain_s=600)
    run_boards([board], 5 * H + 600)
    stop = start + 5 * H + 600

    # About 90 L at 0.5 L/pulse before; then the register is set to 1000.5 L and about 60 L
    # flow as pulses now worth 1 L each.
    rows = pipeline.readings("cfg-1")
    before_set = [r for r in rows if r[0] < start + 2 * H + 1200]
    assert before_set[-1][3] in (89500, 90000), "the old register's last reading keeps its total"
    later_pulses = board.pulses.pulses - before_set[-1][3] // 500
    assert later_pulses in (119, 120)  # float rounding of the scripted flow may hold back one
    expected_ml = 1000500 + later_pulses * 1000
    wait_for(
        lambda: pipeline.store.last_at_or_before("cfg-1", stop) == expected_ml,
        timeout_s=30,
        what="the set register plus later flow",
    )
    rows = pipeline.readings("cfg-1")
    after = [r for r in rows if r[0] > start + 2 * H + 1200 + 300]
    unaligned = [ts for ts, *_x in after if ts % 300]
    assert len(unaligned) <= 2 and len(after) > 20, "interval_s 300 applies (but for a reading at each boot)"
    # Counted from the set register's first reading, not from a fixed time: the watchdog fires at 2.5 h, the
    # instant a 300 s reading of the set_total boot is due, and whether that reading is taken first is a
    # race (CI once stored none of them after 2 h 25 min: boots {3, 4}).
    set_at = [ts for ts, _s, _b, ml in rows if ml == 1000500]
    assert set_at, "the set value is stored"
    boots = {boot for ts, _s, boot, _m in rows if ts >= set_at[0]}
    assert len(boots) == 3, f"set_total, watchdog and power loss each add a boot: {sorted(boots)}"
    assert before_set[-1][2] < min(boots), "the set register starts a boot of its own"

    def result(req_id):
        for _topic, doc in status.messages:
            if doc.get("config", {}).get("id") == req_id:
                return doc["config"]
        return None

    wait_for(lambda: result("c-4"), timeout_s=10, what="config results on status")
    assert result("c-1") == {"id": "c-1", "ok": False, "error": "interval_s must be 10..3600 s"}
    assert result("c-2") == {"id": "c-2", "ok": False, "error": "unknown field colour"}
    assert result("c-3") == {"id": "c-3", "ok": True}
    assert result("c-4") == {"id": "c-4", "ok": True}
    malformed = [d["config"] for _t, d in status.messages if "config" in d and d["config"]["id"] is None]
    assert malformed[0] == {"id": None, "ok": False, "error": "config must be a JSON object"}
    applied = [line for line in board.log if line.startswith("config:") and "'c-4'" in line]
    assert len(applied) == 1, f"set_total applied {len(applied)} times: {applied}"
    births = [d for _t, d in status.messages if d.get("state") == "online" and "reset_cause" in d]
    assert {"power_on", "watchdog"} <= {d["reset_cause"] for d in births}
    for field in ("fw", "rssi_dbm", "uptime_s", "mem_free", "boot", "dropped", "buffered"):
        assert field in births[-1], field
    status.close()

    # Home Assistant discovery: retained, valid JSON, a water total fed by the readings batches.
    wait_for(lambda: discovery.messages, timeout_s=10, what="discovery message")
    topic_, doc = discovery.messages[0]
    assert topic_ == "homeassistant/sensor/wm_cfg-1/total/config"
    assert doc["device_class"] == "water" and doc["state_class"] == "total_increasing"
    assert doc["unit_of_measurement"] == "L" and doc["state_topic"] == "wm/v1/cfg-1/readings"
    assert doc["availability_topic"] == "wm/v1/cfg-1/status"
    discovery.close()
