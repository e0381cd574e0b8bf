"""`make demo`: broker, ingest, API and simulated meters running the real firmware.

Uses mosquitto and InfluxDB when installed, else the embedded amqtt broker and the
embedded SQLite store. Meters run in real time (one reading a minute) from now on.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import threading
import time
from pathlib import Path

from devservices.ports import free_port, wait_listening

STATE_DIR = Path(".demo")
# Something to see within minutes: a dripping tap on demo-0000 (usage grows all day) and a
# burst pipe on demo-0001 from minute 3 (a leak alert and a balance warning within ~20 min).
DEMO_LEAKS = {
    "demo-0000": [{"kind": "drip", "start_s": 0, "end_s": 30 * 86400, "flow_lph": 20.0}],
    "demo-0001": [{"kind": "burst", "start_s": 180, "end_s": 180 + 40 * 60, "flow_lph": 25 * 60.0}],
}


def _port(preferred: int) -> int:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


class _Stopper:
    """Stops a loop thread by its event."""

    def __init__(self, event: threading.Event):
        self.event = event

    def stop(self) -> None:
        self.event.set()


def _seed_accounts(sql_url: str, meters: int) -> str:
    """One Guangzhou account per demo meter, 50 yuan each; a resident owning the first. Returns its token."""
    from datetime import UTC, datetime

    from billing.accounts import bind, create_account
    from billing.db import Database
    from billing.payments import notify
    from billing.tokens import issue_token

    db = Database(sql_url)
    db.create_all()
    now = datetime.now(UTC)
    with db.session() as s:
        for i in range(meters):
            number = f"4401{i:08d}"
            create_account(
                s,
                "guangzhou",
                number,
                name=f"demo household {i}",
                meters=[{"meter_id": f"demo-{i:04d}", "installed_at": now, "district": "demo"}],
            )
            notify(s, "demo-pay", f"demo-topup-{i}", "guangzhou", number, "50.00", now=now)
        bind(s, "demo-resident", "guangzhou", "440100000000", name="home")
        token = issue_token(s, "resident", "demo-resident")
    db.dispose()
    return token


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.demo", description=__doc__)
    p.add_argument("--meters", type=int, default=5)
    p.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
    p.add_argument("--port", type=int, default=8000, help="API port (a free one if taken)")
    p.add_argument("--duration", default="30d", help="how long the meters run")
    p.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded broker and store even if mosquitto / influxd are installed",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if STATE_DIR.exists():
        shutil.rmtree(STATE_DIR)
    STATE_DIR.mkdir()

    stack: list = []
    try:
        if not args.embedded and (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
            from devservices.mosquitto import Mosquitto

            broker = Mosquitto(STATE_DIR / "mosquitto")
            (STATE_DIR / "mosquitto").mkdir()
            broker_kind = "mosquitto"
        else:
            from devservices.embedded_broker import EmbeddedBroker

            broker = EmbeddedBroker()
            broker_kind = "embedded amqtt broker"
        broker.start()
        stack.append(broker)

        if not args.embedded and shutil.which("influxd"):
            from devservices.influx import Influx

            influx = Influx(STATE_DIR / "influx")
            (STATE_DIR / "influx").mkdir()
            influx.start()
            stack.append(influx)
            store_url = influx.store_url("water")
            store_kind = f"InfluxDB at {influx.url} (database water)"
        else:
            store_url = f"sqlite:///{(STATE_DIR / 'water.db').resolve()}"
            store_kind = f"embedded SQLite store {STATE_DIR / 'water.db'}"

        from ingest.config import IngestSettings
        from ingest.worker import IngestWorker
        from storage.config import StorageSettings
        from storage.readings import open_store

        sql_url = f"sqlite:///{(STATE_DIR / 'wm.db').resolve()}"
        storage = StorageSettings(readings_url=store_url, sql_url=sql_url)

        host, port = broker.address.split(":")
        worker = IngestWorker(
            IngestSettings(
                broker_host=host,
                broker_port=int(port),
                client_id="demo-ingest",
                state_path=str((STATE_DIR / "ingest-state.db").resolve()),
                storage=storage,
                batch_wait_s=0.2,
            ),
            open_store(store_url),
        )
        worker.start()
        stack.append(worker)

        import uvicorn

        from dashboard_api.app import create_app
        from dashboard_api.config import ApiSettings

        token = secrets.token_urlsafe(24)
        api_port = _port(args.port)
        resident_token = _seed_accounts(sql_url, args.meters)
        app = create_app(
            ApiSettings(
                storage=storage,
                tokens=token,
                photo_dir=(STATE_DIR / "photos").resolve(),
            )
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        wait_listening(api_port)

        from hardware_sim.cli import parse_duration
        from hardware_sim.fleet import FleetSpec, run_fleet

        start = int(time.time())
        start -= start % 60
        spec = FleetSpec(
            meters=args.meters,
            duration_s=parse_duration(args.duration),
            broker_host=host,
            broker_port=int(port),
            start_unix_s=start,
            speed=args.speed,
            id_prefix="demo",
            state_dir=(STATE_DIR / "boards").resolve(),
            progress=False,
            leak_plan=DEMO_LEAKS,
        )
        sim = threading.Thread(target=run_fleet, args=(spec,), daemon=True)
        sim.start()

        from billing.config import BillingSettings
        from billing.db import Database
        from billing.outbox import MqttPublisher
        from monitor.service import AlertService

        alerts = AlertService(
            open_store(store_url),
            Database(sql_url),
            BillingSettings(mqtt_host=host, mqtt_port=int(port)),
            STATE_DIR / "monitor.json",
            MqttPublisher(host, int(port), "demo-monitor"),
        )
        stop_alerts = threading.Event()
        threading.Thread(target=alerts.run, args=(stop_alerts, 30.0), daemon=True).start()
        stack.append(_Stopper(stop_alerts))

        base = f"http://127.0.0.1:{api_port}"
        day_start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start))
        day_stop = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + 86400))
        usage_url = f"{base}/v1/meters/demo-0000/usage?start={day_start}&stop={day_stop}&every=1m&tz=UTC"
        print(
            f"""
Water metering demo is running.
  broker : {broker_kind} at {broker.address}
  store  : {store_kind}
  meters : {args.meters} simulated boards running firmware/ in MicroPython ({STATE_DIR}/boards)
  API    : {base}/docs   (OpenAPI)
  page   : {base}/dashboard/
  alerts : leak detection + balance warnings every 30 s; MQTT wm/v1/alerts/#
  token  : {token}   (utility operator: all meters)
  resident token: {resident_token}   (owns account 440100000000, meter demo-0000)

Try (readings arrive once a minute):
  curl -s -H 'Authorization: Bearer {token}' {base}/v1/meters
  curl -s -H 'Authorization: Bearer {token}' '{usage_url}'

Ctrl-C stops everything.
""",
            flush=True,
        )
        done = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: done.set())
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        while not done.is_set() and sim.is_alive():
            done.wait(1)
        server.should_exit = True
    finally:
        for part in reversed(stack):
            try:
                part.stop() if hasattr(part, "stop") else None
                if hasattr(part, "cleanup"):
                    part.cleanup()
            except Exception as err:  # shutting down: report, keep stopping the rest
                print(f"stopping {type(part).__name__}: {err}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
