"""Two `python -m ingest` workers split the stream; kill -9 one mid-stream, restart: none lost or doubled."""

from __future__ import annotations

import threading

import httpx
import pytest

from devservices.ports import free_port
from ingest.state import StateDB
from tests.conftest import wait_for
from tests.ingest.conftest import T0, WorkerProcess, batch, publish_many

METERS = 30
MINUTES = 100


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("mode", ["shard", "share"])
def test_kill9_one_of_two_workers_mid_stream(
    mode, mosquitto, influx, influx_store, worker_processes, tmp_path
):
    state_path = tmp_path / "state.db"
    ports = [free_port(), free_port()]
    for i in range(2):
        split = ["--shard", f"{i}/2"] if mode == "shard" else ["--share-group", "ingest"]
        worker_processes.append(
            WorkerProcess(
                [
                    "--broker",
                    mosquitto.address,
                    "--store",
                    influx.store_url(influx_store.database),
                    "--state",
                    str(state_path),
                    "--client-id",
                    f"so-{mode}-{i}",
                    "--metrics-port",
                    str(ports[i]),
                    *split,
                ],
                tmp_path / f"worker{i}.log",
            )
        )
        worker_processes[i].start()
    for i, port in enumerate(ports):
        wait_for(lambda p=port: healthy(p), timeout_s=30, what=f"worker {i} healthy")

    messages = [
        (f"wm/v1/so-{m}/readings", batch(f"so-{m}", [(i, T0 + 60 * i, i * 1.25)]))
        for i in range(MINUTES)
        for m in range(METERS)
    ]
    publisher = threading.Thread(
        target=publish_many, args=(mosquitto.port, messages, "so-pub"), kwargs={"pace_s": 0.0005}
    )
    publisher.start()
    wait_for(lambda: influx_store.count_all_readings() > 300, timeout_s=30, what="stream under way")
    worker_processes[0].kill9()
    stored_at_kill = influx_store.count_all_readings()
    publisher.join()
    assert stored_at_kill < len(messages), "the stream ended before the kill: nothing was tested"
    worker_processes[0].start()  # same client id: its persistent session holds what it had not acked
    wait_for(
        lambda: influx_store.count_all_readings() == len(messages),
        timeout_s=90,
        what="every reading stored once",
    )
    for m in range(METERS):
        assert influx_store.count_readings(f"so-{m}") == MINUTES
        assert influx_store.last_reading(f"so-{m}", T0 + 60 * (MINUTES - 1)).total_ml == (MINUTES - 1) * 1250
    # the shared per-meter state saw every reading once, and no gap, whichever worker stored it
    state = StateDB(str(state_path))
    wait_for(
        lambda: all(s and s.readings == MINUTES for s in (state.get(f"so-{m}") for m in range(METERS))),
        timeout_s=20,
        what="state caught up",
    )
    for m in range(METERS):
        st = state.get(f"so-{m}")
        assert (st.seq, st.missing, st.anomalies) == (MINUTES - 1, 0, 0), st
    state.close()
