"""`python -m ingest`: run one ingest worker (settings from flags or WM_INGEST_* env)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ingest import logs
from ingest.config import IngestSettings, cli_overrides
from ingest.http import OpsServer
from ingest.worker import IngestWorker
from storage.readings import open_store

log = logging.getLogger("ingest")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    p.add_argument("--broker", help="HOST:PORT")
    p.add_argument(
        "--store", help="readings store URL (default WM_STORAGE_READINGS_URL), e.g. sqlite:///water.db"
    )
    p.add_argument("--state", help="per-meter state DB file, shared by the node's workers")
    p.add_argument("--client-id")
    p.add_argument("--share-group", help="join MQTT shared subscription $share/GROUP/...")
    p.add_argument("--shard", help="static hash shard I/N (every worker subscribes to all readings)")
    p.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz, /state/<meter> here (0: any)")
    args = p.parse_args(argv)
    try:
        overrides = cli_overrides(
            args.broker,
            args.store,
            state_path=args.state,
            client_id=args.client_id,
            share_group=args.share_group,
            metrics_port=args.metrics_port,
        )
    except ValueError as err:
        p.error(str(err))
    if args.shard:
        index, _, count = args.shard.partition("/")
        overrides.update(shard_index=int(index), shard_count=int(count))
    settings = IngestSettings(**overrides)  # type: ignore[arg-type]  # validated here, by name
    logs.setup()
    worker = IngestWorker(settings, open_store(settings.storage.readings_url))
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
