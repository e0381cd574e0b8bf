"""`python -m monitor`: leak detection, balance warnings and alert delivery for a running pipeline.

Settings: WM_MONITOR_* (monitor.config), WM_BILLING_* (thresholds, delivery), WM_VEE_* (validation),
WM_STORAGE_* (the readings store and the utility's database, shared with the API).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from billing.config import BillingSettings
from billing.db import Database
from billing.outbox import MqttPublisher
from monitor.config import MonitorSettings
from monitor.service import AlertService
from storage.config import StorageSettings
from storage.readings import open_store
from vee.config import get_vee_settings


def main(argv: list[str] | None = None) -> int:
    """Run the alert service until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m monitor", description=__doc__)
    p.add_argument("--store", help="readings store URL (default WM_STORAGE_READINGS_URL)")
    p.add_argument("--state", type=Path, help="detector state file (default WM_MONITOR_STATE_PATH)")
    p.add_argument("--poll", type=float, help="seconds between polls (default WM_MONITOR_POLL_S)")
    args = p.parse_args(argv)
    overrides: dict = {}
    if args.store:
        overrides["storage"] = StorageSettings(readings_url=args.store)
    if args.state:
        overrides["state_path"] = args.state
    if args.poll:
        overrides["poll_s"] = args.poll
    settings = MonitorSettings(**overrides)
    logging.basicConfig(level=logging.INFO)
    billing = BillingSettings()
    db = Database(settings.storage.sql_url)
    db.create_all()
    mqtt = MqttPublisher(billing.mqtt_host, billing.mqtt_port, "wm-monitor") if billing.mqtt_alerts else None
    service = AlertService(
        open_store(settings.storage.readings_url),
        db,
        billing,
        settings.state_path,
        mqtt,
        leak_config=settings.leak_config(),
        vee_config=get_vee_settings().config(),
        lookback_s=settings.lookback_s,
        utility=settings.utility,
        backfill_per_poll=settings.backfill_per_poll,
        reorder_s=settings.reorder_s,
        checkpoint_every_s=settings.checkpoint_every_s,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.run(stop, settings.poll_s)
    service.leaks.save()  # the minutes fed since the last checkpoint need not be fed again
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
