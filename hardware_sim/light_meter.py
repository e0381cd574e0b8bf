"""A lightweight meter model: register, readings and buffer of docs/protocol.md, no interpreter, no sockets.

Payloads are built by the firmware's own `protocol.py` (loaded from firmware/ as plain
Python), and config requests are checked by the firmware's own `config.validate_request`,
so a light meter says exactly what a firmware board says.
"""

from __future__ import annotations

import importlib.util
import json
from collections import deque
from functools import cache
from types import ModuleType

from hardware_sim.household import PulseSource

FIRMWARE_MODEL = "light"
FW_VERSION = "light-0.1.0"
_PAYLOAD_BYTES = 8192  # protocol limit; 60 readings need under 4 KiB


@cache
def firmware_module(name: str) -> ModuleType:
    """A dependency-free firmware module (protocol, config) loaded in CPython."""
    from hardware_sim.device import FIRMWARE_DIR

    spec = importlib.util.spec_from_file_location(f"_wm_fw_{name}", FIRMWARE_DIR / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load firmware/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LightMeter:
    """One meter's register and unacknowledged readings, advanced on the fleet's virtual time.

    Virtual second 0 is `start_unix_s`; the household draws until `draw_until_s`. The
    register holds integer millilitres; a reading is (seq, ts, boot, total_ml).
    """

    def __init__(self, meter_id: str, pulses: PulseSource, start_unix_s: int, draw_until_s: int,
                 interval_s: int = 60, l_per_pulse: float = 1.0, max_batch: int = 60,
                 buffer_max: int = 2880, topic_prefix: str = "wm/v1"):
        if not 10 <= interval_s <= 3600:
            raise ValueError("interval_s must be 10..3600 s")
        if not 1 <= max_batch <= 60:
            raise ValueError("max_batch must be 1..60 readings")
        if buffer_max < max_batch:
            raise ValueError("buffer_max must hold at least one batch")
        self.meter_id = meter_id
        self.pulses = pulses
        self.start_unix_s = start_unix_s
        self.draw_until_s = draw_until_s
        self.interval_s = interval_s
        self.ml_per_pulse = firmware_module("config").ml_from_litres(l_per_pulse)
        self.max_batch = max_batch
        self.buffer_max = buffer_max
        self.t_readings = f"{topic_prefix}/{meter_id}/readings"
        self.t_status = f"{topic_prefix}/{meter_id}/status"
        self.t_config = f"{topic_prefix}/{meter_id}/config"
        self.boot = 1
        self.seq = 0
        self.total_ml = 0
        self.virt_s = 0
        self.last_ts = 0
        self.dropped = 0
        self.buffer: deque[tuple[int, int, int, int]] = deque()
        self.in_flight = 0  # readings at the head of the buffer sent and awaiting PUBACK
        self.cfg_last: str | None = None
        self.config_result: dict | None = None
        self.config_changes = 0
        self._packet = bytearray(_PAYLOAD_BYTES)
        self._id_bytes = meter_id.encode()  # the firmware builds payloads from bytes

    def resume(self, total_ml: int, seq: int, boot: int, last_ts: int) -> None:
        """Go on from a register that already stands at total_ml (its last reading: seq, boot, last_ts)."""
        if total_ml < 0 or seq < 0 or boot < 1:
            raise ValueError("a register resumes from total_ml >= 0, seq >= 0 and boot >= 1")
        self.total_ml, self.seq, self.boot, self.last_ts = total_ml, seq, boot, last_ts

    def advance_to(self, t_s: int) -> None:
        """Count the household's pulses up to virtual second t_s."""
        end = min(t_s, self.draw_until_s)
        if end > self.virt_s:
            self.total_ml += self.pulses.advance(self.virt_s, end) * self.ml_per_pulse
        self.virt_s = max(self.virt_s, t_s)

    def take_reading(self, t_s: int) -> None:
        """Record the register at virtual second t_s (never two readings for one ts)."""
        self.advance_to(t_s)
        ts = self.start_unix_s + t_s
        if ts <= self.last_ts:
            return
        self.seq += 1
        self.last_ts = ts
        self.buffer.append((self.seq, ts, self.boot, self.total_ml))
        if len(self.buffer) > self.buffer_max:
            # Full: the oldest reading not already on the wire is overwritten, and counted.
            del self.buffer[self.in_flight]
            self.dropped += 1

    def next_batch(self) -> tuple[bytes, int] | None:
        """Payload of the oldest unsent readings (one boot, at most max_batch) and their count."""
        if self.in_flight or not self.buffer:
            return None
        proto = firmware_module("protocol")
        buf = self._packet
        boot = self.buffer[0][2]
        i = proto.batch_open(buf, self._id_bytes, boot)
        n = 0
        for seq, ts, rboot, total in self.buffer:
            if n == self.max_batch or rboot != boot:
                break
            i = proto.batch_add(buf, i, seq, ts, total)
            n += 1
        length = proto.batch_close(buf, i)
        self.in_flight = n
        return bytes(buf[:length]), n

    def acked(self) -> None:
        """The broker has the batch in flight: its readings leave the buffer."""
        for _ in range(self.in_flight):
            self.buffer.popleft()
        self.in_flight = 0

    def status(self, uptime_s: int, state: str = "online") -> str:
        """Birth / config-result payload (retained on the status topic)."""
        fields = {"fw": FW_VERSION, "boot": self.boot, "reset_cause": "power_on", "uptime_s": uptime_s,
                  "rssi_dbm": -60, "interval_s": self.interval_s, "l_per_pulse": self.ml_per_pulse / 1000,
                  "dropped": self.dropped, "buffered": len(self.buffer), "synced": True,
                  "ts": self.start_unix_s + self.virt_s}
        if self.config_result is not None:
            fields["config"] = self.config_result
        return firmware_module("protocol").status(state, **fields)

    def discovery(self, ha_prefix: str = "homeassistant") -> tuple[str, str]:
        """Home Assistant discovery topic and payload."""
        proto = firmware_module("protocol")
        return (proto.discovery_topic(ha_prefix, self.meter_id),
                proto.discovery(self.meter_id, self.t_readings, self.t_status, FW_VERSION))

    def apply_config(self, msg: bytes, now_s: int) -> bool:
        """Validate and apply a config request as the firmware does; False when it was already applied."""
        cfg = firmware_module("config")
        try:
            req = json.loads(msg)
        except ValueError:
            req = None
        req_id = req.get("id") if isinstance(req, dict) else None
        key = req_id if isinstance(req_id, str) else f"raw:{bytes(msg)!r}"
        if key == self.cfg_last:
            return False  # retained requests come back on every connect
        changes, error = cfg.validate_request(req)
        if changes:
            self.advance_to(now_s)
            if "l_per_pulse" in changes:
                self.ml_per_pulse = cfg.ml_from_litres(changes["l_per_pulse"])
            if "set_total_l" in changes:
                self.take_reading(now_s)
                self.total_ml = cfg.ml_from_litres(changes["set_total_l"])
                self.boot += 1
                self.take_reading(max(now_s, self.last_ts - self.start_unix_s) + 1)
            if "interval_s" in changes:
                self.interval_s = int(changes["interval_s"])
            self.config_changes += 1
        self.cfg_last = key
        self.config_result = {"id": req_id, "ok": error is None}
        if error:
            self.config_result["error"] = error
        return True

    def next_due_s(self, now_s: int) -> int:
        """The first interval boundary after virtual second now_s, in virtual seconds."""
        ts = self.start_unix_s + now_s
        return (ts // self.interval_s + 1) * self.interval_s - self.start_unix_s
