"""`python -m monitor`: leak detection, balance warnings and alert delivery for a running pipeline."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from billing.config import BillingSettings
from billing.db import Database
from billing.outbox import MqttPublisher
from ingest.store import open_store
from monitor.service import AlertService


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor", description=__doc__)
    p.add_argument("--store", required=True, help="readings store URL (as for the ingest)")
    p.add_argument("--state", type=Path, default=Path("monitor_state.json"), help="detector state file")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between polls")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = BillingSettings()
    db = Database(settings.db_url)
    db.create_all()
    mqtt = (
        MqttPublisher(settings.mqtt_host, settings.mqtt_port, "wm-monitor") if settings.mqtt_alerts else None
    )
    service = AlertService(open_store(args.store), db, settings, args.state, mqtt)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.run(stop, args.poll)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
