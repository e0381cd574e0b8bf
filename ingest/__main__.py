"""`python -m ingest`: run one ingest worker (settings from flags or WM_INGEST_* env)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from prometheus_client import start_http_server

from ingest.config import IngestSettings
from ingest.store import open_store
from ingest.worker import IngestWorker


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    p.add_argument("--broker", help="HOST:PORT")
    p.add_argument("--store", help="store URL, e.g. influx://127.0.0.1:8086/water or sqlite:///water.db")
    p.add_argument("--client-id")
    p.add_argument("--metrics-port", type=int)
    args = p.parse_args(argv)
    overrides: dict = {}
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        overrides.update(broker_host=host, broker_port=int(port))
    if args.store:
        overrides["store_url"] = args.store
    if args.client_id:
        overrides["client_id"] = args.client_id
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    settings = IngestSettings(**overrides)
    logging.basicConfig(level=logging.INFO, format='{"t":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}')
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
    worker = IngestWorker(settings, open_store(settings.store_url))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    worker.start()
    done.wait()
    worker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
