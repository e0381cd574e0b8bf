"""Run the MQTT client's fake-socket tests under the real MicroPython interpreter."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hardware_sim.device import FIRMWARE_DIR, micropython_binary

HERE = Path(__file__).resolve().parent


def test_mqtt_client_under_micropython():
    proc = subprocess.run([micropython_binary(), str(HERE / "mp_test_mqtt_client.py")],
                          env={"MICROPYPATH": f"{FIRMWARE_DIR}:.frozen"}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passed 13" in proc.stdout, proc.stdout
