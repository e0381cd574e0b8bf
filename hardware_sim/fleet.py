"""A fleet of simulated meters run together, and the ground truth of what each drew.

A mixed fleet runs the first `firmware_meters` meters as FirmwareBoards (the real firmware
in MicroPython) and the rest as light meters (hardware_sim.light_meter), all on one
VirtualClock so they stay in step.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from hardware_sim.clock import VirtualClock
from hardware_sim.device import BoardConfig, FirmwareBoard, SimulatorError
from hardware_sim.faults import random_plan
from hardware_sim.household import Courtyard, Household, Leak, PulseSource
from hardware_sim.install import register_files
from hardware_sim.leak_plan import LeakPlanError, leaked_ml, load_plan, parse_plan, random_leaks, shifted
from hardware_sim.light_fleet import LightFleet, LightLinkConfig
from hardware_sim.light_meter import LightMeter


@dataclass
class FleetSpec:
    """What to simulate."""

    meters: int
    duration_s: int
    broker_host: str
    broker_port: int
    start_unix_s: int
    speed: float = 0.0
    seed: int = 1
    l_per_pulse: float = 1.0
    interval_s: int = 60
    id_prefix: str = "sim"
    state_dir: Path | None = None
    heap: str | None = None
    drain_s: int = 75
    progress: bool = True
    echo: bool = False
    tz: str = "Asia/Shanghai"  # households live by this clock
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    fault_every_s: float | None = None  # random power losses and watchdog resets, this often on average
    firmware_meters: int | None = None  # how many run the real firmware; None: all of them
    leak_fraction: float = 0.0  # share of households given one random leak
    leak_plan: Path | dict | None = None  # or exact leaks: {meter_id: [{kind, start_s, end_s, flow_lph}]}
    slack_s: int = 300  # how far (virtual) any meter may run ahead of the slowest
    light_drain_wait_s: float = 60.0  # real seconds light meters wait for their last PUBACKs
    # Households already placed in time (a demo's history): each meter's household or courtyard, whose
    # virtual second 0 is origin_unix_s (leaks in its own seconds); None: drawn from the seed as usual.
    homes: dict[str, Household | Courtyard] | None = None
    origin_unix_s: int | None = None
    # Where each meter's register stands at the start: (total_ml, seq, boot, ts of its last reading).
    # Light meters go on with that boot; a firmware board is installed with it and boots once.
    registers: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    def meter_id(self, i: int) -> str:
        return f"{self.id_prefix}-{i:04d}"


def run_boards(boards: list[FirmwareBoard], total_s: int, progress: bool = False,
               desc: str = "boards") -> None:
    """Start the boards, wait for all to finish (tqdm bar over virtual seconds), raise if any failed."""
    for b in boards:
        b.start()
    with tqdm(total=total_s, unit="sim-s", disable=not progress, desc=desc) as bar:
        while any(b.running for b in boards):
            time.sleep(0.2)
            done = min(b.virt_ms for b in boards) // 1000
            bar.update(max(0, min(done, total_s) - bar.n))
    errors = {b.meter_id: b.error for b in boards if b.error}
    if errors:
        raise SimulatorError(f"boards failed: {errors}")


def board_truth(b: FirmwareBoard) -> dict:
    """Ground truth of one board for the summary."""
    return {
        "registered_l": b.pulses.registered_ml / 1000,
        "drawn_l": b.pulses.drawn_ml / 1000,
        "pulses": b.pulses.pulses,
        "occupants": b.pulses.household.occupants,
        "leaks": [leak.as_dict() for leak in b.pulses.household.leaks],
        "expected_l": b.expected_ml / 1000,
        "resets": b.resets,
    }


def light_truth(m: LightMeter) -> dict:
    """Ground truth of one light meter, in the same shape as board_truth."""
    return {
        "registered_l": m.pulses.registered_ml / 1000,
        "drawn_l": m.pulses.drawn_ml / 1000,
        "pulses": m.pulses.pulses,
        "occupants": m.pulses.household.occupants,
        "leaks": [leak.as_dict() for leak in m.pulses.household.leaks],
        "expected_l": m.total_ml / 1000,  # the register; equals registered_l unless a config request set it
        "resets": [],
        "dropped": m.dropped,
        "unsent": len(m.buffer),
    }


def leak_truth(leaks: list[Leak], pulses: PulseSource, spec: FleetSpec) -> tuple[list[dict], float]:
    """Each leak with its Unix times and litres drawn inside the run; and their sum in litres."""
    t0 = pulses.offset_s
    t1 = t0 + spec.duration_s
    out = []
    total_ml = 0.0
    for leak in leaks:
        ml = leaked_ml(leak, t0, t1)
        total_ml += ml
        out.append({**leak.as_dict(), "start_unix_s": spec.start_unix_s + leak.start_s - t0,
                    "end_unix_s": spec.start_unix_s + min(leak.end_s - t0, spec.duration_s),
                    "leaked_l": round(ml / 1000, 3)})
    return out, round(total_ml / 1000, 3)


def fleet_leaks(spec: FleetSpec, meter_ids: list[str]) -> dict[str, list[Leak]]:
    """The leaks to inject, in virtual seconds from the start: a plan, or a random fraction."""
    try:
        if isinstance(spec.leak_plan, dict):
            return parse_plan(spec.leak_plan, meter_ids, spec.duration_s)
        if spec.leak_plan is not None:
            return load_plan(Path(spec.leak_plan), meter_ids, spec.duration_s)
        return random_leaks(meter_ids, spec.leak_fraction, spec.seed, spec.duration_s)
    except LeakPlanError as err:
        raise SimulatorError(str(err)) from err


def _check(spec: FleetSpec) -> int:
    """Validate the spec once; the number of firmware meters."""
    if spec.meters < 1:
        raise SimulatorError("need at least one meter")
    n_fw = spec.meters if spec.firmware_meters is None else spec.firmware_meters
    if not 0 <= n_fw <= spec.meters:
        raise SimulatorError(f"firmware meters must be 0..{spec.meters} (the fleet size), not {n_fw}")
    if spec.duration_s < 1:
        raise SimulatorError("duration must be at least 1 s")
    if not 10 <= spec.interval_s <= 3600:
        raise SimulatorError("interval must be 10..3600 s")
    if spec.speed < 0:
        raise SimulatorError("speed must be >= 0 (0 = as fast as possible)")
    return n_fw


def _progress(boards: list[FirmwareBoard], light: LightFleet | None, total_s: int, desc: str,
              enabled: bool) -> None:
    """Wait for every meter, with a tqdm bar over the virtual seconds of the slowest one."""
    with tqdm(total=total_s, unit="sim-s", disable=not enabled, desc=desc) as bar:
        while any(b.running for b in boards) or (light is not None and light.running):
            time.sleep(0.2)
            at = [b.virt_ms // 1000 for b in boards if b.running]
            if light is not None and light.running:
                at.append(light.position_s)
            done = min(at) if at else total_s
            bar.update(max(0, min(done, total_s) - bar.n))


def run_fleet(spec: FleetSpec) -> dict:
    """Run every meter to the end of the duration plus a drain; return the summary (the ground truth)."""
    n_fw = _check(spec)
    state_root = Path(spec.state_dir or tempfile.mkdtemp(prefix="wm-sim-"))
    epoch_ms = spec.start_unix_s * 1000
    ml_per_pulse = int(round(spec.l_per_pulse * 1000))
    local_start = datetime.fromtimestamp(spec.start_unix_s, ZoneInfo(spec.tz))
    start_weekday = local_start.weekday()
    since_midnight_s = local_start.hour * 3600 + local_start.minute * 60 + local_start.second
    meter_ids = [spec.meter_id(i) for i in range(spec.meters)]
    leaks = fleet_leaks(spec, meter_ids)
    stop_s = spec.duration_s + spec.drain_s
    clock = VirtualClock(spec.speed, spec.slack_s * 1000)
    boards: list[FirmwareBoard] = []
    lights: list[LightMeter] = []
    for i, meter_id in enumerate(meter_ids):
        if spec.homes is not None:
            if spec.origin_unix_s is None or meter_id not in spec.homes:
                raise SimulatorError(f"homes need origin_unix_s and an entry for every meter ({meter_id})")
            offset_s = float(spec.start_unix_s - spec.origin_unix_s)
            pulses = PulseSource(spec.homes[meter_id], ml_per_pulse, offset_s)
        else:
            house = Household(seed=spec.seed * 7919 + i, start_weekday=start_weekday,
                              leaks=[shifted(leak, since_midnight_s) for leak in leaks.get(meter_id, [])])
            pulses = PulseSource(house, ml_per_pulse, since_midnight_s)
        register = spec.registers.get(meter_id)
        if i >= n_fw:
            light_meter = LightMeter(meter_id, pulses, spec.start_unix_s, spec.duration_s,
                                     spec.interval_s, spec.l_per_pulse)
            if register is not None:
                light_meter.resume(*register)
            lights.append(light_meter)
            continue
        files: dict[str, bytes] = {}
        if register is not None:
            total_ml, seq, boot, last_ts_s = register
            files = register_files(total_ml, seq, boot, last_ts_s)
        user, password = spec.credentials.get(meter_id, (None, None))
        board = BoardConfig(meter_id, spec.broker_host, spec.broker_port, spec.l_per_pulse,
                            spec.interval_s, mqtt_user=user, mqtt_password=password, files=files)
        faults = []
        if spec.fault_every_s:
            faults = random_plan(spec.seed * 31 + i, spec.duration_s, spec.fault_every_s)
        boards.append(FirmwareBoard(board, pulses, state_root / meter_id, epoch_ms,
                                    draw_until_ms=spec.duration_s * 1000, stop_ms=stop_s * 1000,
                                    speed=spec.speed, heap=spec.heap, echo=spec.echo, faults=faults,
                                    seed=spec.seed * 31 + i, clock=clock))
    light = None
    if lights:
        light = LightFleet(lights, LightLinkConfig(spec.broker_host, spec.broker_port,
                                                   credentials=spec.credentials,
                                                   drain_wait_s=spec.light_drain_wait_s), stop_s, clock)
    wall_t0 = time.monotonic()
    clock.start()
    for b in boards:
        b.start()
    if light is not None:
        light.start()
    desc = f"{spec.meters} meters ({len(boards)} firmware)"
    _progress(boards, light, stop_s, desc, spec.progress)
    errors = {b.meter_id: b.error for b in boards if b.error}
    if light is not None and light.error:
        errors["light meters"] = light.error
    if errors:
        raise SimulatorError(f"meters failed: {errors}")
    meters = {b.meter_id: (board_truth(b), b.pulses) for b in boards}
    meters.update({m.meter_id: (light_truth(m), m.pulses) for m in lights})
    for truth, pulses in meters.values():
        truth["leaks"], truth["leaked_l"] = leak_truth(pulses.household.leaks, pulses, spec)
        truth["household_seed"] = pulses.household.seed  # Household(seed, start_weekday) redraws it
    return {
        "start": datetime.fromtimestamp(spec.start_unix_s, UTC).isoformat(),
        "stop": datetime.fromtimestamp(spec.start_unix_s + spec.duration_s, UTC).isoformat(),
        "duration_s": spec.duration_s,
        "wall_s": round(time.monotonic() - wall_t0, 3),
        "l_per_pulse": spec.l_per_pulse,
        "household_offset_s": since_midnight_s,  # virtual second 0 in household seconds
        "household_start_weekday": start_weekday,
        "state_dir": str(state_root),
        "firmware_meters": len(boards),
        "light_meters": len(lights),
        "light_unsent": light.unsent if light is not None else 0,
        "meters": {mid: {"model": "firmware" if i < n_fw else "light", **meters[mid][0]}
                   for i, mid in enumerate(meter_ids)},
    }
