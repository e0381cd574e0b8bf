"""Ingest throughput: end-to-end readings/s (QoS 1, ack after write) vs raw InfluxDB and raw broker relay.

Method (all in one run, on one machine, against the same mosquitto and influxd):
1. e2e: the workers' persistent sessions are created, the workers stopped, every
   minute reading of the fleet published QoS 1 into their queues; then the workers
   (`python -m ingest` processes, one $share group) start and the clock runs until
   the broker has every message acknowledged, i.e. every reading stored in InfluxDB.
   Publishing is outside the timing: meters publish in parallel in real life.
2. raw InfluxDB: the same points as line protocol, 5,000 lines per /write, one writer.
3. raw broker: mosquitto_pub -l → mosquitto_sub at QoS 0, the same number of messages.
Env: WM_BENCH_METERS (20000), WM_BENCH_MINUTES (5), WM_BENCH_WORKERS (1; 2 share one $share group).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.readings import Reading
from devservices.influx import Influx
from devservices.mosquitto import Mosquitto
from devservices.ports import free_port
from storage.readings.influx import InfluxStore
from storage.readings.lineproto import reading_line

T0 = 1_764_000_000
REPO = Path(__file__).resolve().parents[1]


def _payload(meter: str, minute: int) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "meter": meter,
            "boot": 1,
            "r": [{"seq": minute, "ts": T0 + 60 * minute, "total_l": minute * 1.5}],
        }
    ).encode()


def _publish_part(port: int, meters: list[str], minutes: int, client_id: str) -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [
        client.publish(f"wm/v1/{m}/readings", _payload(m, i), qos=1) for i in range(minutes) for m in meters
    ]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()
    return sum(i.is_published() for i in infos)


def _worker(broker: Mosquitto, store_url: str, state: Path, i: int, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingest",
            "--broker",
            broker.address,
            "--store",
            store_url,
            "--state",
            str(state),
            "--client-id",
            f"bench-{i}",
            "--share-group",
            "bench",
            "--metrics-port",
            str(port),
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _acked(ports: list[int]) -> int:
    total = 0
    for port in ports:
        try:
            total += httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["acked"]
        except (httpx.HTTPError, ValueError):
            pass  # not up yet
    return total


def _wait_healthy(ports: list[int], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if all(httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=1).status_code == 200 for p in ports):
                return
        except httpx.HTTPError:
            pass  # starting
        time.sleep(0.1)
    raise RuntimeError("ingest workers did not become healthy")


def end_to_end(
    broker: Mosquitto, influx: Influx, work: Path, meter_ids: list[str], minutes: int, workers: int
) -> float:
    """Readings/s from queued at the broker to stored and acked."""
    n = len(meter_ids) * minutes
    store_url = influx.store_url("bench_e2e")
    ports = [free_port() for _ in range(workers)]
    procs = [
        _worker(broker, store_url, work / "state.db", i, ports[i], work / f"w{i}.log") for i in range(workers)
    ]
    _wait_healthy(ports)  # sessions and $share subscriptions exist now
    for p in procs:
        p.terminate()
        p.wait()
    parts = 4
    with ProcessPoolExecutor(parts) as pool:
        sent = sum(
            pool.map(
                _publish_part,
                [broker.port] * parts,
                [meter_ids[k::parts] for k in range(parts)],
                [minutes] * parts,
                [f"bench-pub-{k}" for k in range(parts)],
            )
        )
    assert sent == n, f"published {sent} of {n}"
    t0 = time.monotonic()
    procs = [
        _worker(broker, store_url, work / "state.db", i, ports[i], work / f"w{i}.log") for i in range(workers)
    ]
    try:
        while _acked(ports) < n:
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    store = InfluxStore.at(influx.url, "bench_e2e")
    stored = store.count_all_readings()
    store.close()
    assert stored == n, f"stored {stored} of {n}"
    return n / elapsed


def raw_influx(influx: Influx, meter_ids: list[str], minutes: int) -> float:
    """Line-protocol points/s, 5,000 per /write, one writer."""
    store = InfluxStore.at(influx.url, "bench_raw")
    lines = [reading_line(Reading(m, T0 + 60 * i, i * 1500, i, 1)) for i in range(minutes) for m in meter_ids]
    t0 = time.monotonic()
    for k in range(0, len(lines), 5000):
        store.write_lines(lines[k : k + 5000])
    elapsed = time.monotonic() - t0
    store.close()
    return len(lines) / elapsed


def raw_relay(broker: Mosquitto, n: int) -> float:
    """Messages/s mosquitto relays from mosquitto_pub -l to mosquitto_sub at QoS 0."""
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", str(broker.port), "-t", "relay/#", "-C", str(n), "-q", "0"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    body = b"".join(_payload(f"m{i % 1000}", i % 60) + b"\n" for i in range(n))
    t0 = time.monotonic()
    subprocess.run(
        ["mosquitto_pub", "-p", str(broker.port), "-t", "relay/x", "-l", "-q", "0"], input=body, check=True
    )
    sub.wait(timeout=300)
    return n / (time.monotonic() - t0)


def main() -> None:
    meters = int(os.environ.get("WM_BENCH_METERS", 20000))
    minutes = int(os.environ.get("WM_BENCH_MINUTES", 5))
    workers = int(os.environ.get("WM_BENCH_WORKERS", 1))
    meter_ids = [f"b-{i:07d}" for i in range(meters)]
    n = meters * minutes
    with tempfile.TemporaryDirectory(prefix="wm-bench-") as tmp:
        work = Path(tmp)
        (work / "mq").mkdir()
        (work / "influx").mkdir()
        with Mosquitto(work / "mq") as broker, Influx(work / "influx") as influx:
            e2e = end_to_end(broker, influx, work, meter_ids, minutes, workers)
            raw = raw_influx(influx, meter_ids, minutes)
            relay = raw_relay(broker, n)
    print(
        f"fleet: {meters} meters x {minutes} minute readings = {n} readings, {workers} ingest workers, "
        f"{os.cpu_count()} cores (broker, InfluxDB, workers on one machine)"
    )
    print(
        f"end-to-end (QoS 1, ack after InfluxDB write): {e2e:,.0f} readings/s "
        f"({e2e / 16_700:.2f} x the 16,700/s of 1M meters)"
    )
    print(
        f"raw InfluxDB line-protocol writes, same points: {raw:,.0f} points/s  -> e2e ratio {e2e / raw:.2f}"
    )
    print(
        f"raw broker relay QoS 0 (mosquitto_pub -> mosquitto_sub): {relay:,.0f} msg/s  -> e2e ratio "
        f"{e2e / relay:.2f}"
    )


if __name__ == "__main__":
    main()
