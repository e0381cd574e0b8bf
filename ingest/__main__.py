"""`python -m ingest`: run one ingest worker (settings from flags or WM_INGEST_* env)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ingest import compiled, logs
from ingest.config import IngestSettings, cli_overrides
from ingest.http import OpsServer
from ingest.registry import RegistrySnapshot
from ingest.worker import IngestWorker
from storage.readings import StoreError, open_store
from storage.readings.influx import InfluxStore
from storage.sql import Database

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
    p.add_argument("--partitions", type=int, help="meter partitions of the deployment (default 16)")
    p.add_argument(
        "--partition-topic",
        help="a clustered broker that partitions by meter (NATS: ingest): subscribe per partition",
    )
    p.add_argument("--failover", help="more brokers to try in turn: HOST:PORT,HOST:PORT")
    p.add_argument(
        "--open-registry",
        action="store_true",
        help="store readings of any meter id (no registry: only for a migration, docs/ingest.md)",
    )
    args = p.parse_args(argv)
    try:
        overrides = cli_overrides(
            args.broker,
            args.store,
            state_path=args.state,
            client_id=args.client_id,
            share_group=args.share_group,
            metrics_port=args.metrics_port,
            partitions=args.partitions,
            partition_topic=args.partition_topic,
            broker_failover=args.failover,
        )
    except ValueError as err:
        p.error(str(err))
    if args.shard:
        index, _, count = args.shard.partition("/")
        overrides.update(shard_index=int(index), shard_count=int(count))
    settings = IngestSettings(**overrides)  # type: ignore[arg-type]  # validated here, by name
    logs.setup()
    if old := compiled.stale():  # it would run the code as it was before the edit
        log.error(
            "compiled modules older than their sources: run `make native`", extra={"fields": {"modules": old}}
        )
        return 2
    meters = None if args.open_registry else RegistrySnapshot(Database(settings.storage.sql_url))
    store = open_store(settings.storage.readings_url)
    if isinstance(store, InfluxStore):
        try:
            store.apply_retention(settings.storage.readings_retention, settings.storage.rejected_retention)
        except StoreError as err:  # a least-privilege user: the admin sets retention (docs/schema.md)
            log.warning("retention not applied", extra={"fields": {"error": str(err)[:200]}})
    worker = IngestWorker(settings, store, meters=meters)
    ops = None
    if settings.metrics_port is not None:
        ops = OpsServer(worker, settings.metrics_host, settings.metrics_port)
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
