"""`python -m ingest`: run one ingest worker (settings from flags or WM_INGEST_* env)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ingest import logs
from ingest.config import IngestSettings
from ingest.http import OpsServer
from ingest.store import open_store
from ingest.worker import IngestWorker

log = logging.getLogger("ingest")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    p.add_argument("--broker", help="HOST:PORT")
    p.add_argument("--store", help="store URL, e.g. influx://127.0.0.1:8086/water or sqlite:///water.db")
    p.add_argument("--state", help="per-meter state DB file, shared by the node's workers")
    p.add_argument("--client-id")
    p.add_argument("--share-group", help="join MQTT shared subscription $share/GROUP/...")
    p.add_argument("--shard", help="static hash shard I/N (every worker subscribes to all readings)")
    p.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /state/<meter> here (0: any)")
    args = p.parse_args(argv)
    overrides: dict = {}
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        overrides.update(broker_host=host, broker_port=int(port))
    for key, value in (
        ("store_url", args.store),
        ("state_path", args.state),
        ("client_id", args.client_id),
        ("share_group", args.share_group),
        ("metrics_port", args.metrics_port),
    ):
        if value is not None:
            overrides[key] = value
    if args.shard:
        index, _, count = args.shard.partition("/")
        overrides.update(shard_index=int(index), shard_count=int(count))
    settings = IngestSettings(**overrides)
    logs.setup()
    worker = IngestWorker(settings, open_store(settings.store_url))
    ops = None
    if settings.metrics_port is not None:
        ops = OpsServer(worker, settings.metrics_host, settings.metrics_port, settings.state_path)
        ops.start()
        log.info("ops endpoints up", extra={"fields": {"port": ops.port}})
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    worker.start()
    done.wait()
    worker.stop()
    if ops:
        ops.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
