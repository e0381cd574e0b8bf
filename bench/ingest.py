"""Ingest at fleet size: end-to-end readings/s (QoS 1, ack after the store confirmed) vs raw InfluxDB /write.

Runs, each with its baseline measured in the same run against the same influxd (issue 16):
1. cold: METERS distinct meters (default 1,000,000), one reading per message, workers with no state
   (new deployment: empty database, empty state logs, the registry holding every meter);
2. restarted: the next minute of every meter, workers restarted from their state logs (state load counted);
2b. running: the minute after, into a worker that keeps running (SIGSTOP while publishing, no restart): the
   issue's "steady state";
3. batched: BATCH_METERS meters upload 15 minute readings per message (a meter reporting every 15 min);
4. N workers: static shards (--shard i/N) for each N in WORKERS_LIST on their own fleet of N_METERS.
Method: the workers' persistent sessions are created, the workers stopped, every message published QoS 1
into their queues (fast pipelined publisher, bench/mqtt_load.py); then the workers (`python -m ingest`
processes) start and the clock runs until the broker has every message acknowledged, i.e. every reading
stored (start-up and state loading included). Every timed phase starts with influxd idle (`wait_quiet`):
the previous phase's compactions are not charged to it. Publishing is outside the timing: meters publish in
parallel in real life. Baseline: the same reading points as line protocol, 5,000 per /write, one writer,
into a database of the same cardinality (cold: new series; restarted and running: existing ones).
Memory: peak resident set (VmHWM) of each worker and of influxd. Every count is checked exactly.
Env: WM_BENCH_METERS, WM_BENCH_BATCH_METERS, WM_BENCH_N_METERS, WM_BENCH_WORKERS_LIST ("2,3"),
WM_BENCH_RUNS ("cold,restarted,running,batched,workers"),
WM_BENCH_MAX_INFLIGHT (mosquitto's per-session window, 40,000), WM_BENCH_PROFILE (a file: py-spy's
collapsed stacks of the running worker; WM_BENCH_PROFILE_ARGS adds py-spy options).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import orjson
from tqdm import tqdm

from bench.mqtt_load import publish_all
from core.readings import Reading
from devservices.influx import Influx
from devservices.mosquitto import Mosquitto
from devservices.ports import free_port
from ingest import compiled
from ingest.wire import Subscriber
from registry import Registry
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import reading_line
from storage.sql import Database

# 10 minutes past an hour: the cold and restarted minutes share their hour, so neither run holds the burst
# of a million hour roll-ups that every hour boundary brings (1 point per meter and hour: +1/60 on average).
T0 = 1_764_000_000 + 600
REPO = Path(__file__).resolve().parents[1]
GOAL = 16_700  # readings/s of 1M meters at one reading a minute
PUBLISHERS = 2


def meter_id(i: int) -> str:
    return f"b-{i:07d}"


def total_ml(i: int, minute: int) -> int:
    return minute * 1500 + (i % 97) * 11


def payload(i: int, minutes: range) -> bytes:
    m = meter_id(i)
    return orjson.dumps(
        {
            "v": 1,
            "meter": m,
            "boot": 1,
            "r": [{"seq": k, "ts": T0 + 60 * k, "total_l": total_ml(i, k) / 1000} for k in minutes],
        }
    )


def _publish_part(
    port: int, lo: int, hi: int, step: int, minutes: list[tuple[int, int]], client: str, password: str
) -> int:
    msgs = (
        (f"wm/v1/{meter_id(i)}/readings", payload(i, range(a, b)))
        for a, b in minutes
        for i in range(lo, hi, step)
    )
    return publish_all("127.0.0.1", port, msgs, client, user="wm-loadgen", password=password)


def publish(broker: Mosquitto, meters: range, minutes: list[tuple[int, int]], tag: str) -> int:
    """Publish each meter's readings in the given (first, end) minute ranges, one message per range."""
    pw = broker.credentials["wm-loadgen"]
    with ProcessPoolExecutor(PUBLISHERS) as pool:
        futs = [
            pool.submit(
                _publish_part,
                broker.port,
                meters.start + k,
                meters.stop,
                PUBLISHERS,
                minutes,
                f"{tag}-pub-{k}",
                pw,
            )
            for k in range(PUBLISHERS)
        ]
        return sum(f.result() for f in futs)


class Workers:
    """`python -m ingest` processes with static shards, their ops ports and logs."""

    def __init__(
        self,
        broker: Mosquitto | None,
        store_url: str,
        sql_url: str,
        work: Path,
        n: int,
        tag: str,
        brokers: list[str] | None = None,
        ingest_password: str | None = None,
        extra: tuple[str, ...] = (),
        ca_file: Path | None = None,
    ):
        """On `broker`; or on a cluster: `brokers` (each worker starts on the next node, the others its
        failover), `ingest_password`, `extra` arguments (its partition topic) and the CA of its TLS
        listeners (`ca_file`)."""
        self.n = n
        self.ports = [free_port() for _ in range(n)]
        assert broker is not None or (brokers and ingest_password), (
            "a broker, or a cluster's nodes and password"
        )
        nodes = brokers or [broker.address]  # type: ignore[union-attr]

        def where(i: int) -> list[str]:
            turn = nodes[i % len(nodes) :] + nodes[: i % len(nodes)]
            return ["--broker", turn[0]] + (["--failover", ",".join(turn[1:])] if turn[1:] else [])

        self.args = [
            [
                sys.executable, "-m", "ingest", *where(i), "--store", store_url,
                "--state", str(work / f"state-{tag}"), "--client-id", f"{tag}-{i}",
                "--metrics-port", str(self.ports[i]), "--shard", f"{i}/{n}", *extra,
            ]
            for i in range(n)
        ]  # fmt: skip
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "WM_STORAGE_SQL_URL": sql_url,
            "WM_INGEST_BATCH_MAX": "10000",
            "WM_INGEST_QUEUE_MAX": "60000",
            "WM_INGEST_BROKER_USER": "wm-ingest",
            "WM_INGEST_BROKER_PASSWORD": ingest_password or broker.credentials["wm-ingest"],  # type: ignore[union-attr]
        }
        if ca_file is not None:
            self.env["WM_INGEST_BROKER_CA_FILE"] = str(ca_file)
        self.logs = [work / f"{tag}-{i}.log" for i in range(n)]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        self.procs = [
            subprocess.Popen(a, env=self.env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
            for a, log in zip(self.args, self.logs, strict=True)
        ]

    def health(self) -> list[dict]:
        out = []
        for port in self.ports:
            try:
                out.append(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json())
            except (httpx.HTTPError, ValueError):
                out.append({})
        return out

    def wait_healthy(self, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(h.get("connected") for h in self.health()):
                return
            for p, log in zip(self.procs, self.logs, strict=True):
                if p.poll() is not None:
                    raise RuntimeError(f"worker exited:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError("workers did not become healthy")

    def written(self) -> int:
        return sum(h.get("written", 0) for h in self.health())

    def acked(self) -> int:
        return sum(h.get("acked", 0) for h in self.health())

    def mean_batch(self) -> float:
        """Mean readings per store write over the workers (their Prometheus histogram)."""
        total = count = 0.0
        for port in self.ports:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            for row in text.splitlines():
                if row.startswith("wm_ingest_batch_readings_sum"):
                    total += float(row.split()[-1])
                elif row.startswith("wm_ingest_batch_readings_count"):
                    count += float(row.split()[-1])
        return total / count if count else float("nan")

    def peak_rss_mb(self) -> list[float]:
        out = []
        for p in self.procs:
            try:
                status = Path(f"/proc/{p.pid}/status").read_text()
                out.append(
                    int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024
                )
            except (OSError, StopIteration):
                out.append(float("nan"))
        return out

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=120)


def create_sessions(broker: Mosquitto, n: int, tag: str) -> None:
    """Each worker's persistent session, subscribed, so the broker queues for it while it is down."""
    for i in range(n):
        sub = Subscriber("127.0.0.1", broker.port, f"{tag}-{i}", "wm-ingest", broker.credentials["wm-ingest"])
        sub.subscribe("wm/v1/+/readings")
        while sub.suback is None:
            sub.receive()
        sub.close()
    time.sleep(1.0)  # let the broker process the disconnects before anything is published


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(influx: Influx, idle_share: float = 0.05, limit_s: float = 180.0) -> float:
    """Wait until influxd is idle (under 5 % of a core over a second): the previous phase's compactions
    (the baseline's new series, the cold run's TSI log) are not charged to the next phase. Seconds waited."""
    assert influx.proc is not None
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        before = cpu_s(influx.proc.pid)
        time.sleep(1.0)
        if cpu_s(influx.proc.pid) - before < idle_share:
            break
    waited = time.monotonic() - t0
    print(f"influxd quiet after {waited:.0f} s", flush=True)
    return waited


def influx_rss_mb(influx: Influx) -> float:
    assert influx.proc is not None
    status = Path(f"/proc/{influx.proc.pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024


CPU: dict[str, float] = {}  # CPU µs per reading of each part in the last run (load-independent)


def run_e2e(
    broker: Mosquitto | None,
    workers: Workers,
    expected_acks: int,
    desc: str,
    influx: Influx | None = None,
    brokers: dict[str, int] | None = None,
) -> tuple[float, list[float]]:
    """Start the workers and wait until every queued message is acknowledged; (readings/s, peak RSS MB).
    CPU is counted for mosquitto (`broker`), or for `brokers` (name → pid: a cluster's nodes)."""
    others = dict(brokers or {})
    if broker is not None:
        assert broker.proc is not None
        others["mosquitto"] = broker.proc.pid
    if influx and influx.proc:
        others["influxd"] = influx.proc.pid
    before = {k: cpu_s(pid) for k, pid in others.items()}
    t0 = time.monotonic()
    t0_wall = time.time()
    workers.start()
    try:
        return _until_acked(workers, expected_acks, desc, others, before, t0, t0_wall)
    finally:
        workers.stop()  # also when the run failed: no worker is left behind


def _until_acked(
    workers: Workers,
    expected_acks: int,
    desc: str,
    others: dict[str, int],
    before: dict[str, float],
    t0: float,
    t0_wall: float,
) -> tuple[float, list[float]]:
    """run_e2e's clock: until `expected_acks` messages are acknowledged; (readings/s, peak RSS MB)."""
    worker_cpu = [0.0] * workers.n
    written = 0
    with tqdm(total=expected_acks, desc=desc, unit="msg", mininterval=2) as bar:
        while True:
            acked = workers.acked()
            bar.update(acked - bar.n)
            if acked >= expected_acks:
                break
            for k, (p, log) in enumerate(zip(workers.procs, workers.logs, strict=True)):
                if p.poll() is not None:
                    raise RuntimeError(f"worker exited:\n{log.read_text()[-3000:]}")
                worker_cpu[k] = cpu_s(p.pid)
            time.sleep(0.25)
    elapsed = time.monotonic() - t0
    written = workers.written()
    LAST["batch_readings"] = workers.mean_batch()
    rss = workers.peak_rss_mb()
    for k, p in enumerate(workers.procs):
        worker_cpu[k] = cpu_s(p.pid)
    LAST.update(elapsed_s=elapsed, startup_s=max(startup_s(log, t0_wall) for log in workers.logs))
    CPU.clear()
    CPU["workers"] = sum(worker_cpu) / written * 1e6
    CPU.update({k: (cpu_s(pid) - before[k]) / written * 1e6 for k, pid in others.items()})
    return written / elapsed, rss


def profiler(pid: int) -> subprocess.Popen | None:
    """py-spy sampling the worker (collapsed stacks per thread) when WM_BENCH_PROFILE names the output
    file: where the running worker's time goes (the sampler takes a little CPU of its own)."""
    out = os.environ.get("WM_BENCH_PROFILE")
    if not out:
        return None
    extra = os.environ.get("WM_BENCH_PROFILE_ARGS", "").split()  # e.g. --idle
    exe = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if exe is None:
        raise RuntimeError("WM_BENCH_PROFILE needs py-spy (pip install py-spy)")
    cmd = [
        exe,
        "record",
        "-p",
        str(pid),
        "-o",
        out,
        "--format",
        "raw",
        "-t",
        "-r",
        "250",
        "--nonblocking",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_running(broker: Mosquitto, workers: Workers, meters: int, influx: Influx) -> float:
    """Steady state without a restart: the worker starts (its state load not timed) and is stopped with
    SIGSTOP; the next minute of every meter is published into its session (up to the in-flight window
    already in its socket); SIGCONT starts the clock, which runs until every message is acknowledged."""
    assert broker.proc is not None and influx.proc is not None
    workers.start()
    try:
        return _timed_running(broker, workers, meters, influx)
    finally:
        workers.stop()  # also when the run failed: no worker is left behind


def _timed_running(broker: Mosquitto, workers: Workers, meters: int, influx: Influx) -> float:
    assert broker.proc is not None and influx.proc is not None
    workers.wait_healthy()
    base = workers.acked()
    pid = workers.procs[0].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        publish(broker, range(meters), [(2, 3)], "running")
        wait_quiet(influx)
    finally:
        os.kill(pid, signal.SIGCONT)
    others = {"mosquitto": broker.proc.pid, "influxd": influx.proc.pid}
    before = {k: cpu_s(v) for k, v in {**others, "workers": pid}.items()}
    t0 = time.monotonic()
    spy = profiler(pid)
    with tqdm(total=meters, desc="running", unit="msg", mininterval=2) as bar:
        while (acked := workers.acked() - base) < meters:
            bar.update(acked - bar.n)
            if workers.procs[0].poll() is not None:
                raise RuntimeError(f"worker exited:\n{workers.logs[0].read_text()[-3000:]}")
            time.sleep(0.25)
    elapsed = time.monotonic() - t0
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    CPU.clear()
    CPU.update({k: (cpu_s(v) - before[k]) / meters * 1e6 for k, v in {**others, "workers": pid}.items()})
    return meters / elapsed


LAST: dict[str, float] = {}  # the last run's wall time and its workers' start-up


def startup_s(log: Path, since_wall_s: float) -> float:
    """Seconds from `since_wall_s` to the worker's first subscription after it (its log's JSON lines):
    process start, imports, registry snapshot and state load."""
    for line in log.read_text().splitlines():
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if rec.get("msg") != "subscribed":
            continue
        at = datetime.fromisoformat(rec["t"].replace("Z", "+00:00")).timestamp()
        if at >= since_wall_s:
            return at - since_wall_s
    return float("nan")


def startup_text(readings: int) -> str:
    """The last run's start-up and its rate after start-up."""
    up, total = LAST["startup_s"], LAST["elapsed_s"]
    return (
        f"start-up {up:.1f} s of {total:.1f} s, after it {readings / (total - up):,.0f} readings/s, "
        f"{LAST['batch_readings']:,.0f} readings per store write"
    )


def cpu_text() -> str:
    """CPU µs per reading of each part in the last run."""
    return "CPU µs/reading " + ", ".join(f"{k} {v:.1f}" for k, v in CPU.items())


def raw_write(influx: Influx, db: str, meters: range, minutes: range) -> tuple[float, float]:
    """The same reading points as line protocol, 5,000 per /write, one writer: (points/s, influxd's CPU µs
    per point while writing: what the store itself costs, to set beside the run's)."""
    store = InfluxStore.at(influx.url, db)
    assert influx.proc is not None
    cpu0 = cpu_s(influx.proc.pid)
    t_total = 0.0
    n = 0
    chunk: list[str] = []
    for k in minutes:  # minute by minute, meters in order: the order the fleet produces them
        for i in meters:
            chunk.append(reading_line(Reading(meter_id(i), T0 + 60 * k, total_ml(i, k), k, 1), 1.5))
            if len(chunk) == 5000:
                t = time.monotonic()
                store.write_lines(chunk)
                t_total += time.monotonic() - t
                n += len(chunk)
                chunk = []
    if chunk:
        t = time.monotonic()
        store.write_lines(chunk)
        t_total += time.monotonic() - t
        n += len(chunk)
    store.close()
    return n / t_total, (cpu_s(influx.proc.pid) - cpu0) / n * 1e6


def count(influx: Influx, db: str) -> int:
    store = InfluxStore.at(influx.url, db)
    try:
        return store.count_all_readings()
    finally:
        store.close()


def against_raw(
    influx: Influx, db: str, fleet: range, minutes: range, run: str, rate: float, extra: str
) -> str:
    """The run's result line with its baseline: the same points written raw into `db` (influxd idle first)."""
    wait_quiet(influx)
    raw, raw_cpu_us = raw_write(influx, db, fleet, minutes)
    per_msg = f"{len(minutes)} reading{'s' if len(minutes) > 1 else ''}/msg"
    extra += f" | raw: influxd {raw_cpu_us:.1f} µs/point"
    out = line(f"{run} {len(fleet):>9,} meters, {per_msg}", rate, raw, extra)
    print(out, flush=True)
    return out


def line(label: str, rate: float, raw: float, extra: str) -> str:
    """One result: e2e rate, against the goal and against raw /write of the same points."""
    return (
        f"{label}: {rate:>9,.0f} readings/s ({rate / GOAL:.2f} x 16,700) | raw /write same points "
        f"{raw:>9,.0f}/s -> ratio {rate / raw:.2f} | {extra}"
    )


def main() -> None:
    meters = int(os.environ.get("WM_BENCH_METERS", 1_000_000))
    batch_meters = int(os.environ.get("WM_BENCH_BATCH_METERS", 200_000))
    n_meters = int(os.environ.get("WM_BENCH_N_METERS", 200_000))
    workers_list = [int(x) for x in os.environ.get("WM_BENCH_WORKERS_LIST", "2,3").split(",") if x]
    runs = set(os.environ.get("WM_BENCH_RUNS", "cold,restarted,running,batched,workers").split(","))
    print(f"{os.cpu_count()} cores; mosquitto, influxd (tsi1) and the workers on this machine")
    print(f"the workers' hot path: {compiled.status()} (ingest/compiled.py; `make native`)")
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wm-bench-ingest-") as tmp:
        work = Path(tmp)
        (work / "mq").mkdir()
        (work / "influx").mkdir()
        # The production setup: a closed broker (passwords, ACL checked on every publish), InfluxDB with auth.
        max_inflight = int(os.environ.get("WM_BENCH_MAX_INFLIGHT", 40_000))
        broker = Mosquitto.closed(work / "mq", max_inflight=max_inflight)
        with broker, Influx(work / "influx", max_meters=max(meters, batch_meters, n_meters) + 10) as influx:
            reg_url = f"sqlite:///{work}/registry.db"
            reg = Registry(Database(reg_url))
            top = max(meters, batch_meters, n_meters)
            t = time.monotonic()
            reg.provision_many([meter_id(i) for i in range(top)], "bench")
            print(f"registry: {top:,} meters provisioned in {time.monotonic() - t:.1f} s")
            fleet = range(meters)
            if "cold" in runs or "restarted" in runs:
                one = Workers(broker, influx.store_url("e2e"), reg_url, work, 1, "one")
                create_sessions(broker, 1, "one")
                publish(broker, fleet, [(0, 1)], "cold")
                wait_quiet(influx)
                rate, rss = run_e2e(broker, one, meters, "cold", influx)
                assert count(influx, "e2e") == meters
                extra = f"worker peak RSS {rss[0]:,.0f} MB, influxd RSS {influx_rss_mb(influx):,.0f} MB"
                extra += f" | {startup_text(meters)} | {cpu_text()}"
                results.append(against_raw(influx, "raw", fleet, range(0, 1), "cold     ", rate, extra))
                if "restarted" in runs:
                    publish(broker, fleet, [(1, 2)], "restarted")
                    wait_quiet(influx)
                    rate, rss = run_e2e(broker, one, meters, "restarted", influx)
                    assert count(influx, "e2e") == 2 * meters
                    extra = (
                        f"worker peak RSS {rss[0]:,.0f} MB (loads {meters:,} meters' state) | "
                        f"{startup_text(meters)} | {cpu_text()}"
                    )
                    results.append(against_raw(influx, "raw", fleet, range(1, 2), "restarted", rate, extra))
                if "running" in runs:
                    rate = run_running(broker, one, meters, influx)
                    assert count(influx, "e2e") == (3 if "restarted" in runs else 2) * meters
                    extra = f"worker running with {meters:,} meters' state (no restart) | {cpu_text()}"
                    results.append(against_raw(influx, "raw", fleet, range(2, 3), "running  ", rate, extra))
            if "batched" in runs:
                bfleet = range(batch_meters)
                bw = Workers(broker, influx.store_url("e2e_b"), reg_url, work, 1, "batch")
                create_sessions(broker, 1, "batch")
                publish(broker, bfleet, [(0, 15)], "batch")
                wait_quiet(influx)
                rate, rss = run_e2e(broker, bw, batch_meters, "batched", influx)
                assert count(influx, "e2e_b") == 15 * batch_meters
                extra = f"worker peak RSS {rss[0]:,.0f} MB | {cpu_text()}"
                results.append(against_raw(influx, "raw_b", bfleet, range(0, 15), "batched", rate, extra))
            if "workers" in runs:
                nfleet = range(n_meters)
                for n in [1, *workers_list]:
                    tag = f"n{n}"
                    ws = Workers(broker, influx.store_url(f"e2e_{tag}"), reg_url, work, n, tag)
                    create_sessions(broker, n, tag)
                    publish(broker, nfleet, [(0, 1)], tag)
                    wait_quiet(influx)
                    rate, rss = run_e2e(broker, ws, n_meters, f"{n} workers", influx)
                    stored = count(influx, f"e2e_{tag}")
                    assert stored == n_meters, f"{n} workers stored {stored} of {n_meters}"
                    results.append(
                        f"{n} worker(s) (static shards), {n_meters:,} meters: {rate:>9,.0f} readings/s, "
                        f"every reading stored once; peak RSS per worker "
                        f"{', '.join(f'{r:,.0f}' for r in rss)} MB | {cpu_text()}"
                    )
                    print(results[-1], flush=True)
    print("\n".join(["", "summary:", *results]))


if __name__ == "__main__":
    main()
