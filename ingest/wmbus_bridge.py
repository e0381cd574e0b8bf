"""`python -m ingest.wmbus_bridge`: wmbusmeters JSON on MQTT → readings in the store, through the ingest's
worker (QoS 1, ack only after the store confirmed, retry with backoff, metrics, JSON logs).

A bad message is written to the dead-letter store with its reason and then acknowledged; a store
outage holds messages unacknowledged and retries. Settings: WM_WMBUS_* (ingest.config.WmbusSettings).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from ingest import logs
from ingest.config import WmbusSettings, cli_overrides
from ingest.http import OpsServer
from ingest.registry import RegistrySnapshot
from ingest.wmbus import WmbusIntake
from ingest.worker import IngestWorker
from storage.readings import open_store
from storage.sql import Database

log = logging.getLogger("ingest.wmbus")


def make_worker(settings: WmbusSettings, open_registry: bool = False) -> IngestWorker:
    """The ingest worker with the wM-Bus intake over the configured store and the registry's meters."""
    return IngestWorker(
        settings,
        open_store(settings.storage.readings_url),
        intake=WmbusIntake(settings.topic, settings.meter_prefix),
        meters=None if open_registry else RegistrySnapshot(Database(settings.storage.sql_url)),
    )


def main(argv: list[str] | None = None) -> int:
    """Run one wM-Bus intake worker until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m ingest.wmbus_bridge", description=__doc__)
    p.add_argument("--broker", help="HOST:PORT")
    p.add_argument("--topic", help="MQTT topic filter wmbusmeters publishes on (default wmbusmeters/#)")
    p.add_argument("--store", help="readings store URL (default WM_STORAGE_READINGS_URL)")
    p.add_argument("--client-id")
    p.add_argument("--prefix", help="prefix for meter ids (e.g. wmbus-)")
    p.add_argument("--metrics-port", type=int, help="serve /metrics and /healthz here (0: any)")
    p.add_argument(
        "--open-registry", action="store_true", help="store readings of any meter id (no registry)"
    )
    args = p.parse_args(argv)
    try:
        overrides = cli_overrides(
            args.broker,
            args.store,
            topic=args.topic,
            client_id=args.client_id,
            meter_prefix=args.prefix,
            metrics_port=args.metrics_port,
        )
    except ValueError as err:
        p.error(str(err))
    settings = WmbusSettings(**overrides)  # type: ignore[arg-type]  # validated here, by name
    logs.setup()
    worker = make_worker(settings, args.open_registry)
    ops = None
    if settings.metrics_port is not None:
        ops = OpsServer(worker, settings.metrics_host, settings.metrics_port)
        ops.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    worker.start()
    log.info("wM-Bus intake started", extra={"fields": {"topic": worker.topic}})
    done.wait()
    worker.stop()
    worker.store.close()
    if ops:
        ops.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
