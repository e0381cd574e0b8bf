"""Command line of the simulator: `python -m hardware_sim run --meters 300 --firmware-meters 5`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path

from hardware_sim.device import SimulatorError
from hardware_sim.fleet import FleetSpec, run_fleet

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """'90s', '15m', '6h', '1d' or plain seconds to seconds."""
    m = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"duration must look like 90s, 15m, 6h or 1d, not {text!r}")
    return int(m.group(1)) * _UNITS_S[m.group(2) or "s"]


def parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"broker must be HOST:PORT, not {text!r}")
    return host, int(port)


def parse_fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"leak fraction must be a number 0..1, not {text!r}") from err
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"leak fraction must be 0..1, not {text}")
    return value


def parse_start(text: str) -> int:
    if text == "now":
        return int(time.time())
    try:
        return int(datetime.fromisoformat(text).timestamp())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"start must be ISO-8601 or 'now': {err}") from err


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hardware_sim", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run simulated meters against a broker")
    run.add_argument("--meters", type=int, default=3, help="fleet size")
    run.add_argument("--firmware-meters", type=int, default=None,
                     help="how many run the real firmware in MicroPython (the rest are light meters); "
                          "default: all")
    run.add_argument("--leaks", type=parse_fraction, default=0.0, metavar="FRACTION",
                     help="share of households given a random leak (drip, running toilet or burst)")
    run.add_argument("--leak-plan", type=Path, default=None,
                     help='JSON {meter_id: [{"kind", "start_s", "end_s", "flow_lph"}]}; '
                          'seconds from the start')
    run.add_argument("--truth", type=Path, default=None,
                     help="write the ground truth (the JSON summary, leaks included) here")
    run.add_argument("--duration", type=parse_duration, default=parse_duration("1d"))
    run.add_argument("--speed", type=float, default=0.0,
                     help="virtual seconds per real second; 0 = as fast as possible")
    run.add_argument("--broker", type=parse_broker, default=("127.0.0.1", 1883))
    run.add_argument("--start", type=parse_start, default=None,
                     help="virtual start time (ISO-8601 or 'now'); default: now minus the duration")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--l-per-pulse", type=float, default=1.0)
    run.add_argument("--interval", type=int, default=60, help="publish interval, s")
    run.add_argument("--id-prefix", default="sim")
    run.add_argument("--state-dir", type=Path, default=None)
    run.add_argument("--heap", default=None, help="MicroPython heap size, e.g. 64k")
    run.add_argument("--summary", type=Path, default=None, help="also write the JSON summary here")
    run.add_argument("--echo", action="store_true", help="print the firmware's log lines")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--faults-every", type=parse_duration, default=None,
                     help="random power losses and watchdog resets, on average this often (e.g. 2h)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.leaks and args.leak_plan:
        print("error: give --leaks or --leak-plan, not both", file=sys.stderr)
        return 2
    for path in (args.summary, args.truth):
        if path and not path.parent.is_dir():  # say so now, not after an hour of simulation
            print(f"error: cannot write {path}: no directory {path.parent}", file=sys.stderr)
            return 2
    start = args.start if args.start is not None else int(time.time()) - args.duration - 120
    start -= start % 60
    spec = FleetSpec(meters=args.meters, duration_s=args.duration, broker_host=args.broker[0],
                     broker_port=args.broker[1], start_unix_s=start, speed=args.speed, seed=args.seed,
                     l_per_pulse=args.l_per_pulse, interval_s=args.interval, id_prefix=args.id_prefix,
                     state_dir=args.state_dir, heap=args.heap, progress=not args.no_progress,
                     echo=args.echo, fault_every_s=args.faults_every,
                     firmware_meters=args.firmware_meters, leak_fraction=args.leaks, leak_plan=args.leak_plan)
    try:
        summary = run_fleet(spec)
    except SimulatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    text = json.dumps(summary, indent=2)
    for path in (args.summary, args.truth):
        if path:
            path.write_text(text)
    print(text)
    return 0
