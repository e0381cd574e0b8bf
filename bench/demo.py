"""`make demo` at full size: seconds from start to an API answering a year of usage, and the backfill.

Method (one run, one machine): `devservices.demo.start_demo` with the defaults of `make demo` (50 homes,
13 months, 3 firmware boards, live meters at real speed) in a temp dir on free ports; the clock runs from
the call until the API answers a 13-month usage query at 1mo. Then the background backfill of the older
minute readings runs to its end (or WM_BENCH_DEMO_BACKFILL_S, default 1200 s) and its rate is compared
with a raw `/write` of 200k reading lines (5,000 per request, one writer) into the same InfluxDB in the
same run. Env: WM_BENCH_DEMO_HOUSEHOLDS (50), WM_BENCH_DEMO_MONTHS (13).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

from core.readings import Reading
from devservices.demo import start_demo
from devservices.ports import free_port
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import reading_line

GOAL_S = 60.0
RAW_LINES = 200_000


def _raw_write_rate(influx_url: str) -> float:
    """Points/s of plain /write of minute readings (the baseline of the backfill)."""
    store = InfluxStore.at(influx_url, "raw_baseline")
    lines = [
        reading_line(Reading(f"raw-{i % 50:04d}", 1_700_000_000 + 60 * (i // 50), i, i, 1), 1.0)
        for i in range(RAW_LINES)
    ]
    t = time.perf_counter()
    for k in range(0, len(lines), 5000):
        store.write_lines(lines[k : k + 5000])
    dt = time.perf_counter() - t
    store.close()
    return RAW_LINES / dt


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the seeding workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds a running process (influxd, mosquitto) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    households = int(os.environ.get("WM_BENCH_DEMO_HOUSEHOLDS", "50"))
    months = int(os.environ.get("WM_BENCH_DEMO_MONTHS", "13"))
    backfill_cap_s = float(os.environ.get("WM_BENCH_DEMO_BACKFILL_S", "1200"))
    state = Path(tempfile.mkdtemp(prefix="wm-bench-demo-")) / "demo"
    t0 = time.monotonic()
    cpu0 = _cpu_s()
    load0 = os.getloadavg()[0]
    demo = start_demo(state, households=households, months=months, port=free_port(), progress=True)
    try:
        cpu = _cpu_s() - cpu0 + sum(_proc_cpu_s(p.proc.pid) for p in demo.stack if getattr(p, "proc", None))
        plan = demo.seeded.plan
        minutes = (plan.now_s - plan.origin_s) // 60 + 1
        print(
            f"demo: {households} homes x {months} months ({minutes * households / 1e6:.1f}M minute "
            "readings); "
            f"API answered a year of usage after {demo.ready_s:.1f} s (goal {GOAL_S:.0f} s); "
            f"seeding {demo.seeded.seconds['total']} s (store + ledger overlapped: "
            f"{demo.seeded.seconds['store']} s); CPU used until then {cpu:.0f} s (this process, the seeding "
            f"workers, influxd, mosquitto): >= {cpu / 2:.0f} s on 2 idle cores; load average "
            f"{load0:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        fill = demo.backfill
        if fill is None:
            print("no backfill (embedded store)")
            return
        t_fill = time.monotonic()
        finished = fill.join(timeout=backfill_cap_s)
        fill_s = time.monotonic() - t_fill
        rate = fill.written / fill_s if fill_s > 0 else 0.0
        influx_url = demo.store_url.replace("influx://", "http://").rsplit("/", 1)[0]
        raw = _raw_write_rate(influx_url)
        state_word = "finished" if finished else f"stopped after the {backfill_cap_s:.0f} s cap"
        print(
            f"backfill {state_word}: {fill.written / 1e6:.2f}M older minute readings in {fill_s:.0f} s "
            f"({rate:,.0f}/s while the live demo ran) = {rate / raw:.2f} x raw /write ({raw:,.0f}/s, "
            f"same InfluxDB, same run); {time.monotonic() - t0:.0f} s in all"
        )
    finally:
        demo.stop()


if __name__ == "__main__":
    main()
