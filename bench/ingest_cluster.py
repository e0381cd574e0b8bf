"""Ingest on a 3-node NATS cluster (issue 16, item 3): readings/s with 1 and 2 workers over the partitions.

Meters keep speaking MQTT QoS 1 to any node; the cluster's subject mapping deals each meter's readings to its
partition; each worker's durable MQTT session (replicated on 3 nodes in JetStream) subscribes to its
partitions only (`--partition-topic ingest --shard i/N`): no fan-out. The cluster is closed as deployed (TLS
on MQTT and routes, passwords, ACL); one more run without TLS says what TLS costs. Method as bench.ingest: the
workers' sessions are created, the workers stopped, every message published QoS 1 (spread over the nodes, the
publish time reported), then the workers start and the clock runs until every message is acknowledged (start-
up included); every count checked. Baseline in the same run: raw /write of the same points into the same
influxd. Everything — three nats-server nodes, influxd, the workers — shares this one 2-core machine, so this
is the path's cost per reading, not a cluster's capacity: a deployment puts nodes and workers on their own
machines. The cluster's mapping deals meters to one subject per worker, so each run has its own cluster. Env:
WM_BENCH_CLUSTER_METERS (default 200,000), WM_BENCH_CLUSTER_WORKERS ("1,2")."""

from __future__ import annotations

import os
import ssl
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.ingest import (
    CPU,
    LAST,
    Workers,
    count,
    cpu_text,
    meter_id,
    payload,
    raw_write,
    run_e2e,
    wait_quiet,
)
from bench.mqtt_load import publish_all
from devservices.influx import Influx
from devservices.nats import NatsCluster
from registry import Registry
from storage.sql import Database


def _publish_node(
    port: int, lo: int, hi: int, step: int, client: str, password: str, ca_file: str | None
) -> int:
    msgs = ((f"wm/v1/{meter_id(i)}/readings", payload(i, range(0, 1))) for i in range(lo, hi, step))
    tls = ssl.create_default_context(cafile=ca_file) if ca_file else None  # the listeners' TLS
    return publish_all(
        "127.0.0.1", port, msgs, client, user="wm-loadgen", password=password, window=2000, tls=tls
    )


def publish(cluster: NatsCluster, meters: int, tag: str) -> float:
    """Every meter's minute reading, QoS 1, meters dealt over the nodes; messages/s."""
    pw = cluster.credentials["wm-loadgen"]
    nodes = len(cluster.mqtt_ports)
    t0 = time.monotonic()
    with ProcessPoolExecutor(nodes) as pool:
        futs = [
            pool.submit(
                _publish_node,
                cluster.mqtt_ports[k],
                k,
                meters,
                nodes,
                f"{tag}-pub-{k}",
                pw,
                str(cluster.ca_file) if cluster.ca_file else None,
            )
            for k in range(nodes)
        ]
        sent = sum(f.result() for f in futs)
    assert sent == meters, f"published {sent} of {meters}"
    return meters / (time.monotonic() - t0)


def main() -> None:
    meters = int(os.environ.get("WM_BENCH_CLUSTER_METERS", 200_000))
    counts = [int(x) for x in os.environ.get("WM_BENCH_CLUSTER_WORKERS", "1,2").split(",") if x]
    print(
        f"{os.cpu_count()} cores; 3 nats-server nodes (JetStream R3), influxd and the workers on this machine"
    )
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wm-bench-cluster-") as tmp:
        work = Path(tmp)
        (work / "influx").mkdir()
        with Influx(work / "influx", max_meters=meters + 10) as influx:
            reg_url = f"sqlite:///{work}/registry.db"
            Registry(Database(reg_url)).provision_many([meter_id(i) for i in range(meters)], "bench")
            rates: dict[int, float] = {}
            # Each worker count on the closed cluster as deployed (TLS), then one worker without TLS on the
            # same closed cluster: what TLS costs, in the same run.
            runs = [(n, True) for n in counts] + [(counts[0], False)]
            for n, tls in runs:  # the cluster's mapping deals meters to one subject per worker: one per n
                tag = f"c{n}" if tls else f"c{n}-plain"
                cluster = NatsCluster.closed(work / f"nats-{tag}", nodes=3, partitions=16, workers=n, tls=tls)
                cluster.start()
                try:
                    addresses = cluster.addresses(0)
                    nodes = {f"nats-{k}": nd.proc.pid for k, nd in enumerate(cluster.nodes) if nd.proc}
                    ws = Workers(
                        None, influx.store_url(f"e2e_{tag}"), reg_url, work, n, tag, brokers=addresses,
                        ingest_password=cluster.credentials["wm-ingest"],
                        extra=("--partition-topic", "ingest", "--partitions", str(cluster.partitions)),
                        ca_file=cluster.ca_file,
                    )  # fmt: skip
                    ws.start()  # the durable sessions, subscribed to their partitions
                    ws.wait_healthy(120)
                    ws.stop()
                    pub_rate = publish(cluster, meters, tag)
                    wait_quiet(influx)
                    label = f"cluster{'' if tls else ' without TLS'}, {n} worker(s)"
                    rate, rss = run_e2e(None, ws, meters, label, influx, brokers=nodes)
                    stored = count(influx, f"e2e_{tag}")
                    assert stored == meters, f"{n} workers stored {stored} of {meters}"
                    nats_us = sum(v for k, v in CPU.items() if k.startswith("nats"))
                    if tls:
                        rates[n] = rate
                        versus = f"{rate / rates[counts[0]]:.2f} x {counts[0]} worker"
                    else:
                        versus = f"TLS costs {1 - rates[n] / rate:.0%} of this"
                    results.append(
                        f"{label}, {meters:,} meters: {rate:>8,.0f} readings/s ({versus}), every reading "
                        f"stored once; start-up {LAST['startup_s']:.1f} s of {LAST['elapsed_s']:.1f} s; "
                        f"meters published QoS 1 at {pub_rate:,.0f} msg/s; peak RSS per worker "
                        f"{', '.join(f'{r:,.0f}' for r in rss)} MB | {cpu_text()} (nats nodes {nats_us:.1f})"
                    )
                    print(results[-1], flush=True)
                finally:
                    cluster.cleanup()
            wait_quiet(influx)
            raw, raw_cpu_us = raw_write(influx, "raw_c", range(meters), range(0, 1))
            best = max(rates.values())
            results.append(
                f"raw /write of the same points {raw:,.0f}/s (influxd {raw_cpu_us:.1f} µs/point) -> best "
                f"cluster run {best / raw:.2f} x raw"
            )
    print("\n".join(["", "summary:", *results]))


if __name__ == "__main__":
    main()
