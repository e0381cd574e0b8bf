"""N `python -m ingest` workers partition the meters; kill -9 one mid-stream, restart: nothing lost or
doubled, roll-ups and per-meter state exact (issue 16, item 2; `make bench` runs it at full size)."""

from __future__ import annotations

import threading

import httpx
import pytest

from core.readings import Reading
from devservices.ports import free_port
from tests.conftest import wait_for
from tests.ingest.conftest import T0, WorkerProcess, batch, ingest_env, publish_many
from tests.storage.test_rollup import rollups_match

METERS = 30
MINUTES = 150  # 2.5 hours: closed hours whose roll-ups must be exact


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def state_of(ports: list[int], meter: str) -> dict | None:
    """The meter's state from whichever worker holds its partition."""
    for port in ports:
        try:
            resp = httpx.get(f"http://127.0.0.1:{port}/state/{meter}", timeout=2)
        except httpx.HTTPError:
            continue
        if resp.status_code == 200:
            return resp.json()
    return None


def total_ml(meter: int, minute: int) -> int:
    return minute * 1250 + meter * 7 + (minute % 7) * 3


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_kill9_one_of_n_workers_mid_stream(
    workers, mosquitto, influx, influx_store, worker_processes, tmp_path
):
    ports = [free_port() for _ in range(workers)]
    for i in range(workers):
        worker_processes.append(
            WorkerProcess(
                [
                    "--broker",
                    mosquitto.address,
                    "--store",
                    influx.store_url(influx_store.database),
                    "--state",
                    str(tmp_path / "state"),  # the node's state logs: one per partition
                    "--client-id",
                    f"so-{workers}-{i}",
                    "--metrics-port",
                    str(ports[i]),
                    "--shard",
                    f"{i}/{workers}",
                    "--open-registry",
                ],
                tmp_path / f"worker{i}.log",
                ingest_env(mosquitto),
            )
        )
        worker_processes[i].start()
    for i, port in enumerate(ports):
        wait_for(lambda p=port: healthy(p), timeout_s=30, what=f"worker {i} healthy")

    messages = [
        (f"wm/v1/so-{m}/readings", batch(f"so-{m}", [(i, T0 + 60 * i, total_ml(m, i) / 1000)]))
        for i in range(MINUTES)
        for m in range(METERS)
    ]
    publisher = threading.Thread(
        target=publish_many, args=(mosquitto.port, messages, "so-pub"), kwargs={"pace_s": 0.0003}
    )
    publisher.start()
    wait_for(lambda: influx_store.count_all_readings() > 600, timeout_s=60, what="stream under way")
    victim = worker_processes[-1]
    victim.kill9()
    stored_at_kill = influx_store.count_all_readings()
    publisher.join()
    assert stored_at_kill < len(messages), "the stream ended before the kill: nothing was tested"
    victim.start()  # same client id: its persistent session holds what it had not acked
    wait_for(
        lambda: influx_store.count_all_readings() == len(messages),
        timeout_s=120,
        what="every reading stored once",
    )
    for m in range(METERS):
        assert influx_store.count_readings(f"so-{m}") == MINUTES
        assert influx_store.last_reading(f"so-{m}", T0 + 60 * (MINUTES - 1)).total_ml == total_ml(
            m, MINUTES - 1
        )
    # roll-ups of every closed hour equal the readings' (the open hour stays with its worker)
    truth = [
        Reading(f"so-{m}", T0 + 60 * i, total_ml(m, i), i, 1) for m in range(METERS) for i in range(MINUTES)
    ]
    wait_for(lambda: rollups_match(influx_store, truth), timeout_s=30, what="roll-ups equal to the readings")
    # each meter's state, held by one worker, saw every reading once and no gap
    for m in range(METERS):
        st = wait_for(
            lambda m=m: (s := state_of(ports, f"so-{m}")) and s["seq"] == MINUTES - 1 and s,
            timeout_s=20,
            what=f"state of so-{m}",
        )
        assert (st["missing"], st["anomalies"], st["conflicts"]) == (0, 0, 0), st
        assert st["readings"] == MINUTES, st
