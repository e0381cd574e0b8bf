"""Fixtures for ingest tests: a QoS 1 publisher, batch builders and a worker factory."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import REGISTRY

from devservices.mosquitto import Mosquitto
from ingest.config import IngestSettings
from ingest.worker import IngestWorker
from storage.readings.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]
T0 = 1_764_000_000  # 2025-11-24T16:00:00Z, a minute boundary


def batch(meter: str, readings: list[tuple[int, int, float]], boot: int = 1) -> bytes:
    """A protocol v1 batch from (seq, ts_s, total_l) tuples."""
    return json.dumps(
        {
            "v": 1,
            "meter": meter,
            "boot": boot,
            "r": [{"seq": s, "ts": t, "total_l": v} for s, t, v in readings],
        }
    ).encode()


def series(n: int, start_seq: int = 0, t0: int = T0, step_l: float = 1.5) -> list[tuple[int, int, float]]:
    """n minute readings of a meter using step_l litres a minute."""
    return [(start_seq + i, t0 + 60 * i, round(i * step_l, 3)) for i in range(n)]


def metric(name: str, labels: dict | None = None) -> float:
    """Current value of one of this process's Prometheus samples (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def mosquitto(tmp_path) -> Iterator[Mosquitto]:
    """The ingest tests' broker is closed like production (issue 17): no anonymous client, ACLs, roles."""
    broker = Mosquitto.closed(tmp_path / "mosquitto")
    (tmp_path / "mosquitto").mkdir(exist_ok=True)
    broker.start()
    LOADGEN_CREDS[broker.port] = broker.credentials["wm-loadgen"]
    yield broker
    LOADGEN_CREDS.pop(broker.port, None)
    broker.cleanup()


LOADGEN_CREDS: dict[int, str] = {}  # port → the load generator's password on that test broker
LISTENER_CA: dict[int, Path] = {}  # port → the CA of a TLS listener (the closed NATS cluster's)


def _login(client: mqtt.Client, port: int) -> None:
    if port in LOADGEN_CREDS:
        client.username_pw_set("wm-loadgen", LOADGEN_CREDS[port])
    if port in LISTENER_CA:
        client.tls_set(ca_certs=str(LISTENER_CA[port]), tls_version=ssl.PROTOCOL_TLS_CLIENT)


def ingest_env(broker: Mosquitto) -> dict[str, str]:
    """Environment for a `python -m ingest` process on the closed test broker."""
    return {
        "WM_INGEST_BROKER_USER": "wm-ingest",
        "WM_INGEST_BROKER_PASSWORD": broker.credentials["wm-ingest"],
    }


class Publisher:
    """A paho QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, port: int, client_id: str = "test-pub"):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        _login(self.client, port)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=30)
        assert info.is_published(), f"no PUBACK for {topic}"

    def readings(self, meter: str, readings: list[tuple[int, int, float]], boot: int = 1) -> None:
        self.publish(f"wm/v1/{meter}/readings", batch(meter, readings, boot))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto) -> Iterator[Publisher]:
    pub = Publisher(mosquitto.port)
    yield pub
    pub.close()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "readings.db"))
    yield store
    store.close()


@pytest.fixture
def start_worker(mosquitto, tmp_path):
    """Start in-process workers on the test broker; all stopped at teardown."""
    workers: list[IngestWorker] = []

    def start(store, client_id: str = "test-ingest", meters=None, **overrides) -> IngestWorker:
        settings = IngestSettings(
            broker_host="127.0.0.1",
            broker_port=mosquitto.port,
            broker_user="wm-ingest",
            broker_password=mosquitto.credentials["wm-ingest"],
            client_id=client_id,
            state_path=str(tmp_path / "state.db"),
            batch_wait_s=0.05,
            **overrides,
        )
        worker = IngestWorker(settings, store, meters=meters)
        worker.start()
        assert worker.wait_connected(), "worker did not connect"
        workers.append(worker)
        return worker

    yield start
    for w in workers:
        if not w._stop.is_set():
            w.stop()


class WorkerProcess:
    """`python -m ingest` as a subprocess (for kill -9)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.args = args
        self.log_path = log_path
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONPATH": str(REPO), **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture
def worker_processes() -> Iterator[list[WorkerProcess]]:
    procs: list[WorkerProcess] = []
    yield procs
    for p in procs:
        p.stop()


def publish_many(
    port: int,
    messages: list[tuple[str, bytes]],
    client_id: str,
    stop: threading.Event | None = None,
    pace_s: float = 0.0,
) -> int:
    """Publish messages QoS 1 with a window of outstanding PUBACKs; returns how many were acked."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    _login(client, port)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for topic, payload in messages:
        if stop is not None and stop.is_set():
            break
        infos.append(client.publish(topic, payload, qos=1))
        if pace_s:
            time.sleep(pace_s)
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()
    return sum(1 for i in infos if i.is_published())
