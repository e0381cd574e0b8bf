"""A fleet of simulated meters run together, and the ground truth of what each drew."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tqdm import tqdm

from hardware_sim.device import BoardConfig, FirmwareBoard, SimulatorError
from hardware_sim.faults import random_plan
from hardware_sim.household import Household, PulseSource


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


def run_fleet(spec: FleetSpec) -> dict:
    """Run every meter to the end of the duration plus a drain; return the summary."""
    if spec.meters < 1:
        raise SimulatorError("need at least one meter")
    state_root = Path(spec.state_dir or tempfile.mkdtemp(prefix="wm-sim-"))
    epoch_ms = spec.start_unix_s * 1000
    ml_per_pulse = int(round(spec.l_per_pulse * 1000))
    local_start = datetime.fromtimestamp(spec.start_unix_s, ZoneInfo(spec.tz))
    start_weekday = local_start.weekday()
    since_midnight_s = local_start.hour * 3600 + local_start.minute * 60 + local_start.second
    boards: list[FirmwareBoard] = []
    for i in range(spec.meters):
        meter_id = spec.meter_id(i)
        user, password = spec.credentials.get(meter_id, (None, None))
        house = Household(seed=spec.seed * 7919 + i, start_weekday=start_weekday)
        board = BoardConfig(meter_id, spec.broker_host, spec.broker_port, spec.l_per_pulse,
                            spec.interval_s, mqtt_user=user, mqtt_password=password)
        pulses = PulseSource(house, ml_per_pulse, since_midnight_s)
        faults = []
        if spec.fault_every_s:
            faults = random_plan(spec.seed * 31 + i, spec.duration_s, spec.fault_every_s)
        boards.append(FirmwareBoard(board, pulses, state_root / meter_id, epoch_ms,
                                    draw_until_ms=spec.duration_s * 1000,
                                    stop_ms=(spec.duration_s + spec.drain_s) * 1000,
                                    speed=spec.speed, heap=spec.heap, echo=spec.echo, faults=faults,
                                    seed=spec.seed * 31 + i))
    wall_t0 = time.monotonic()
    run_boards(boards, spec.duration_s + spec.drain_s, spec.progress, f"{spec.meters} meters")
    return {
        "start": datetime.fromtimestamp(spec.start_unix_s, UTC).isoformat(),
        "stop": datetime.fromtimestamp(spec.start_unix_s + spec.duration_s, UTC).isoformat(),
        "duration_s": spec.duration_s,
        "wall_s": round(time.monotonic() - wall_t0, 3),
        "l_per_pulse": spec.l_per_pulse,
        "state_dir": str(state_root),
        "meters": {b.meter_id: board_truth(b) for b in boards},
    }
