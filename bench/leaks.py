"""Leak detection at full size: per household kind and per leak kind on households never tuned on, and
the monitor's throughput and memory per meter against what a 1,000,000-meter fleet produces.

Accuracy: LEAK_PER_KIND households of each kind (bench.households) with one leak each (drip,
continuous, running toilet, burst in turn) over LEAK_WEEKS, and FREE_PER_KIND without, over FREE_WEEKS;
zones, pulse sizes (exact, 0.1 L, 1 L), reading phases and missing readings drawn per household.
Thresholds were tuned on bench.leak_scenarios.TUNE_SEEDS only; these seeds were never looked at while
tuning. Env: WM_BENCH_LEAK_PER_KIND (40), WM_BENCH_FREE_PER_KIND (40).

Fleet: a 1M-meter fleet reporting every minute produces 16,667 meter-minutes/s. The monitor's path
is measured in one process on FLEET_METERS meters over FLEET_DAYS days of realistic households:
readings → minutes by the one consumption rule (monitor.feed.MinuteFolder) → detector, against a
baseline that only iterates the same readings. Memory per meter is tracemalloc's count of the
detector's and folders' state after the run, divided by the meters. Then the fleet-wide InfluxDB read
(monitor.feed.InfluxReadings.since: one statement per poll) is timed on INFLUX_METERS meters.
Env: WM_BENCH_FLEET_METERS (2000), WM_BENCH_FLEET_DAYS (4), WM_BENCH_INFLUX_METERS (20000).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench import leak_scenarios as ev
from bench.households import KINDS, HouseholdSpec
from core.consumption import Mark
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from monitor.feed import MinuteFolder

LEAK_SEED, FREE_SEED = 3001, 3002  # never used while tuning (bench.leak_scenarios.TUNE_SEEDS)
LEAK_PER_KIND = int(os.environ.get("WM_BENCH_LEAK_PER_KIND", "40"))
FREE_PER_KIND = int(os.environ.get("WM_BENCH_FREE_PER_KIND", "40"))
LEAK_WEEKS, FREE_WEEKS = 3, 4
PULSES_L = (0.0, 0.1, 1.0)
FLEET_RATE = 1_000_000 / 60  # meter-minutes per second of a 1M-meter fleet reporting each minute
FLEET_METERS = int(os.environ.get("WM_BENCH_FLEET_METERS", "2000"))
FLEET_DAYS = int(os.environ.get("WM_BENCH_FLEET_DAYS", "4"))
INFLUX_METERS = int(os.environ.get("WM_BENCH_INFLUX_METERS", "20000"))
INFLUX_MINUTES = 10


def _fmt(x: float, spec: str) -> str:
    return "-" if x != x else format(x, spec)


def _pct(x: float) -> str:
    return _fmt(100 * x, ".0f") + " %" if x == x else "-"


def print_accuracy(rep: ev.Report) -> None:
    """Per leak kind and per household kind, then the goals."""
    print(
        f"\n{'leak kind':11} {'leaks':>5} {'found':>5} {'goal':>4} {'in time':>7} {'TTD p50':>9}"
        f" {'TTD max':>9} {'kind ok':>7} {'start<1h':>8} {'|start| p50':>11} {'|rate| p50':>10}"
        f" {'rate<20%':>8} {'|loss| p50':>10} {'loss<10%':>8}"
    )
    for r in ev.leak_rows(rep):
        burst = r["name"] == "burst"
        unit, scale = ("min", 60.0) if burst else ("h", 3600.0)
        window = ev.GOAL_BURST_DELAY_S if burst else ev.GOAL_BACKGROUND_DELAY_S
        goal_rs = [
            x
            for x in rep.leaks
            if x.leak.kind == r["name"] and (x in rep.goal_bursts() or x in rep.goal_background())
        ]
        in_time = ev._share(goal_rs, lambda x, w=window: x.delay_s is not None and x.delay_s <= w)
        print(
            f"{r['name']:11} {r['leaks']:>5} {r['detected']:>5} {r['goal']:>4} {_pct(in_time):>7}"
            f" {_fmt(r['delay_p50_s'] / scale, '.1f'):>5} {unit:3} {_fmt(r['delay_max_s'] / scale, '.1f'):>5}"
            f" {unit:3} {_pct(r['kind_right']):>7} {_pct(r['start_within_1h']):>8}"
            f" {_fmt(r['start_err_p50_s'] / 60, '.1f'):>7} min {_pct(r['rate_err_p50']):>10}"
            f" {_pct(r['rate_within_20']):>8} {_pct(r['volume_err_p50']):>10}"
            f" {_pct(r['volume_within_10']):>8}"
        )
    print(
        "(goal: leaks >= 4 L/h lasting 26 h, bursts >= 20 L/min, data through the detection window;"
        " TTD = time to detect; start error for background leaks; loss = litres lost so far at detection)"
    )
    print(
        f"\n{'household':12} {'homes':>5} {'weeks':>6} {'false':>5} {'per 100 wk':>10} {'notices/100 wk':>14}"
        f" {'leaks':>5} {'found':>5} {'kind ok':>7} {'start<1h':>8}  false alarms by kind"
    )
    for r in ev.house_rows(rep):
        print(
            f"{r['name']:12} {r['households']:>5} {r['weeks']:>6.0f} {r['false']:>5}"
            f" {_fmt(r['false_per_100'], '.2f'):>10} {_fmt(r['notices_per_100'], '.1f'):>14}"
            f" {r['leaks']:>5} {r['detected']:>5} {_pct(r['kind_right']):>7} {_pct(r['start_within_1h']):>8}"
            f"  {r['false_by_kind'] or ''}"
        )
    gap = [r for r in rep.leaks if r.gap_in_window]
    print(
        f"leaks with an outage in their first 26 h / 20 min: {sum(r.alert is not None for r in gap)} of"
        f" {len(gap)} found (not counted in the goals)"
    )
    for name, (value, met) in rep.goals().items():
        shown = f"{value:.2f}" if "per 100" in name else _pct(value)
        print(f"  goal {name:46} {shown:>9}  {'MET' if met else 'NOT MET'}")


def accuracy() -> ev.Report:
    """Score the detector on the report populations."""
    pop = ev.population(LEAK_SEED, LEAK_PER_KIND, LEAK_WEEKS, True, pulses=PULSES_L) + ev.population(
        FREE_SEED, FREE_PER_KIND, FREE_WEEKS, False, pulses=PULSES_L
    )
    print(
        f"{LEAK_PER_KIND} households of each of {len(KINDS)} kinds x {LEAK_WEEKS} weeks with one leak each,"
        f" {FREE_PER_KIND} x {FREE_WEEKS} weeks without; pulses {PULSES_L} L; seeds {LEAK_SEED}/{FREE_SEED}"
    )
    t0 = time.monotonic()
    rep = ev.score(pop, progress=lambda xs: tqdm(xs, desc="households", mininterval=5))
    minutes = sum(sc.house.days for sc in pop) * 1440
    took = time.monotonic() - t0
    print(f"{minutes / took / 1000:.0f}k household-minutes/s (simulation + detection), {took:.0f} s")
    print_accuracy(rep)
    return rep


# ---- fleet scale -------------------------------------------------------------------------------------


def _fleet_readings(meters: int, days: int) -> tuple[list[str], np.ndarray, int]:
    """Totals (ml) per meter and minute from a pool of real households (exact and 1 L pulse meters)."""
    pool = []
    for i, kind in enumerate(KINDS * 5):
        sc = ev.Scenario(HouseholdSpec(kind, 9000 + i, days), None, (), 1.0 if i % 2 else 0.0, 30.0)
        t0, litres = ev.scenario_minutes(sc)
        pool.append(np.cumsum(np.nan_to_num(litres)) * 1000)
    totals = np.stack([np.round(pool[m % len(pool)]).astype(np.int64) for m in range(meters)])
    return [f"fleet-{m:07d}" for m in range(meters)], totals, t0


def fleet() -> None:
    """Throughput and memory of the monitor's path at fleet scale."""
    names, totals, t0 = _fleet_readings(FLEET_METERS, FLEET_DAYS)
    minutes = totals.shape[1]
    hours = range(0, minutes, 60)

    def poll(h: int, m: int) -> list[Mark]:
        # One poll's readings of one meter, as the fleet read parses them (30 s into each minute).
        base = t0 + 60 * h + 30
        return [Mark(base + 60 * k, v, 1) for k, v in enumerate(totals[m, h : h + 60].tolist())]

    # Baseline: the readings of every poll made, nothing done with them.
    t = time.perf_counter()
    n = 0
    for h in hours:
        for m in range(FLEET_METERS):
            n += len(poll(h, m))
    base_s = time.perf_counter() - t
    det = LeakDetector(LeakConfig(tz="Asia/Shanghai"))
    folders = {m: MinuteFolder() for m in names}
    events = 0
    per_day: list[float] = []
    t = time.perf_counter()
    day_t, day_n = t, 0
    for h in tqdm(hours, desc="fleet hours", mininterval=10):
        update = det.update
        for m, name in enumerate(names):
            got = folders[name].fold(poll(h, m))
            day_n += len(got)
            for ts, litres in got:
                events += len(update(name, ts, litres))
        if h % 1440 == 1380:
            now = time.perf_counter()
            per_day.append(day_n / (now - day_t))
            day_t, day_n = now, 0
    took_s = time.perf_counter() - t
    rate = n / took_s
    print(f"\nfleet: {FLEET_METERS} meters x {FLEET_DAYS} days = {n:,} meter-minutes, {events} events")
    print(f"  baseline (make each poll's readings, nothing else): {n / base_s:,.0f} readings/s")
    print(
        f"  readings -> minutes (core.consumption) -> detector, one core: {rate:,.0f} meter-minutes/s"
        f" = {rate / FLEET_RATE:.1f} x the {FLEET_RATE:,.0f}/s of 1,000,000 meters"
        f" ({rate / (n / base_s):.2f} of the baseline)"
    )
    print(
        "  per day of data (the state fills up over the first 3 days): "
        + ", ".join(f"{r:,.0f}" for r in per_day)
        + " meter-minutes/s"
    )
    # Memory: the state rebuilt from its checkpoint under tracemalloc (the live run is not traced:
    # tracing slows allocation-heavy code several times).
    state = {"d": det.to_dict(), "f": {m: f.to_list() for m, f in folders.items()}}
    text = json.dumps(state)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    restored = LeakDetector.from_dict(state["d"])
    rfolders = {m: MinuteFolder.from_list(v) for m, v in state["f"].items()}
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert restored.meter_count() == len(rfolders) == FLEET_METERS
    per_meter = used / FLEET_METERS
    print(
        f"  memory: {per_meter / 1024:.1f} KiB per meter (detector + minute folder, tracemalloc) ->"
        f" {per_meter * 1e6 / 2**30:.1f} GiB for 1,000,000 meters"
    )
    print(f"  checkpoint: {len(text) / FLEET_METERS / 1024:.1f} KiB of JSON per meter")
    _influx_read()


def _influx_read() -> None:
    """One fleet-wide statement per poll: how fast InfluxDB answers it, and how fast it is parsed."""
    try:
        from devservices.influx import Influx
        from monitor.feed import InfluxReadings
        from storage.readings.influx import InfluxStore
        from storage.readings.lineproto import MEASUREMENT
    except ImportError as err:  # pragma: no cover - the bench's own dependencies
        print(f"  influx read: skipped ({err})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = Influx(Path(tmp))
        try:
            server.start()
        except (FileNotFoundError, RuntimeError) as err:
            print(f"  influx read: InfluxDB did not start ({err})")
            return
        try:
            store = InfluxStore.at(server.url, "leakbench")
            t0 = 1_772_409_600
            lines = [
                f'{MEASUREMENT},meter=m{m:07d} total_l={k * 1.5},seq={k}i,boot=1i,source="device" '
                f"{t0 + 60 * k + 7}"
                for k in range(INFLUX_MINUTES)
                for m in range(INFLUX_METERS)
            ]
            for i in tqdm(range(0, len(lines), 5000), desc="influx write", mininterval=10):
                store.conn.write(lines[i : i + 5000])
            reader = InfluxReadings(store)
            t = time.perf_counter()
            got = reader.since(t0)
            took = time.perf_counter() - t
            n = sum(len(v) for v in got.values())
            print(
                f"  InfluxDB fleet read: {n:,} readings of {len(got):,} meters in one statement,"
                f" {took:.1f} s = {n / took:,.0f} readings/s"
                f" = {n / took / FLEET_RATE:.1f} x the 1M-meter rate"
            )
            store.close()
        finally:
            server.cleanup()


def main() -> None:
    """Accuracy per kind, then fleet scale."""
    accuracy()
    fleet()


if __name__ == "__main__":
    main()
