"""Provisioning on the board: secrets move to NVS, factory reset with the BOOT button, set-up page."""

from __future__ import annotations

import json

from hardware_sim.faults import Fault
from hardware_sim.fleet import run_boards
from tests.conftest import wait_for
from tests.hardware_sim.conftest import ScriptedFlow, StatusLog, make_board, sim_start
from tests.hardware_sim.safe_mode import configure_through_portal


def test_secrets_leave_the_site_file_for_nvs(mosquitto, tmp_path):
    start = sim_start(days_ago=1)
    board = make_board(
        tmp_path, "prov-1", mosquitto.port, start, 600, household=ScriptedFlow([], 0.0), drain_s=60
    )
    run_boards([board], 660)
    nvs = json.loads((tmp_path / "prov-1" / "nvs.json").read_text())
    stored = bytes(nvs["wm"]["wifi_password"][1]).decode()
    assert stored == "sim", "the Wi-Fi key is in NVS"
    assert any(ln.startswith("creds: wifi_password moved to NVS") for ln in board.log)
    assert sum(1 for ln in board.log if ln.startswith("creds:")) == 1, "moved once, not at every boot"


def test_factory_reset_with_the_boot_button_then_set_up_page(mosquitto, pipeline, tmp_path):
    start = sim_start(days_ago=1)
    board = make_board(
        tmp_path,
        "prov-2",
        mosquitto.port,
        start,
        3600,
        l_per_pulse=1.0,
        household=ScriptedFlow([(0, 3600)], 30.0),
        drain_s=300,
    )
    person = configure_through_portal(board, mosquitto.port)
    board.faults.extend(
        [
            Fault(600, "button_down", 0),
            Fault(600.5, "watchdog"),  # held through a reset: factory reset
            Fault(615, "button_up", 0),
            Fault(700, "call", person),
        ]
    )
    board.faults.sort(key=lambda f: f.at_s)
    status = StatusLog(mosquitto.port)
    run_boards([board], 3900)
    assert any("factory reset: site file and credentials erased" in ln for ln in board.log)
    assert any(ln.startswith("safe mode: factory reset") for ln in board.log)
    assert person.result.get("status") == 200, person.result
    assert board.repl_at_ms == []
    stop = start + 3900
    # Readings resume after the set-up; the register kept counting (the reset and the set-up do not
    # touch the total) apart from the pulses a reset may lose.
    wait_for(
        lambda: pipeline.store.last_at_or_before("prov-2", stop) == board.expected_ml,
        timeout_s=30,
        what="readings after the set-up page",
    )
    births = [d for t, d in status.messages if t == "wm/v1/prov-2/status" and d.get("state") == "online"]
    assert len(births) >= 2
    status.close()
