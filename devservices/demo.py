"""`make demo`: a year of history for ~50 homes on three tariffs, then live meters, ingest, API and alerts.

Seeds 13 months of minute-level history (devservices.seed: hourly span roll-ups of the whole year plus the
recent minutes first, older minutes in the background) into the readings store and the billing database,
then runs the broker, the ingest, the API, the alert service and the simulated meters, which go on from
each home's seeded register (a few boards run the real firmware in MicroPython, the rest are light
meters). Uses mosquitto and InfluxDB when installed, else the embedded amqtt broker and SQLite store.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devservices.ports import free_port, wait_listening

STATE_DIR = Path(".demo")
OPERATOR = "demo-operator"


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


class _Stopper:
    """Stops a loop thread by its event and waits for it."""

    def __init__(self, event: threading.Event, thread: threading.Thread):
        self.event = event
        self.thread = thread

    def stop(self) -> None:
        self.event.set()
        self.thread.join(timeout=60)


@dataclass
class Demo:
    """A running demo: where everything is, and what to stop."""

    base_url: str
    operator_token: str
    resident_token: str
    broker: str
    broker_kind: str
    store_url: str
    store_kind: str
    sql_url: str
    seeded: Any
    ready_s: float  # from start to the API answering a year of usage
    backfill: Any = None
    fleet: Any = None
    alerts: Any = None
    photo: dict = field(default_factory=dict)
    stack: list = field(default_factory=list)
    server: Any = None
    metrics_url: str = ""
    broker_credentials: dict = field(default_factory=dict)
    sms_sink: str = ""  # the development SMS sink: binding codes land here (docs/security.md)

    def stop(self) -> None:
        """Stop every part, newest first; a part that fails to stop does not keep the rest running."""
        if self.server is not None:
            self.server.should_exit = True
        for part in reversed(self.stack):
            try:
                part.stop() if hasattr(part, "stop") else None
                if hasattr(part, "cleanup"):
                    part.cleanup()
            except Exception as err:  # shutting down: report, keep stopping the rest
                print(f"stopping {type(part).__name__}: {err}")


def _services(state: Path, embedded: bool, stack: list) -> tuple[Any, str, str, str]:
    """Broker and store, both closed (issue 17): (broker, broker kind, store URL, store kind).

    The broker takes no anonymous client (a user per meter, services by role: devservices/acl.py; mosquitto
    also has a TLS device listener); InfluxDB runs with authentication (the store URL carries its admin).
    """
    if not embedded and (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        from devservices.mosquitto import Mosquitto

        (state / "mosquitto").mkdir()
        broker: Any = Mosquitto.closed(state / "mosquitto", hosts=("127.0.0.1", "localhost"))
        broker_kind = "mosquitto (closed: passwords, ACL; TLS device listener on port {})"
    else:
        from devservices.embedded_broker import EmbeddedBroker

        broker = EmbeddedBroker(closed=True)
        broker_kind = "embedded amqtt broker (closed: passwords, ACL)"
    broker.start()
    broker_kind = broker_kind.format(getattr(broker, "tls_port", ""))
    stack.append(broker)
    if not embedded and shutil.which("influxd"):
        from devservices.influx import ADMIN, Influx

        (state / "influx").mkdir()
        influx = Influx(state / "influx")
        influx.start()
        stack.append(influx)
        kind = f"InfluxDB at http://127.0.0.1:{influx.port} (database water; auth on, admin {ADMIN})"
        return broker, broker_kind, influx.store_url("water"), kind
    path = (state / "water.db").resolve()
    return broker, broker_kind, f"sqlite:///{path}", f"embedded SQLite store {path}"


def _meter_credentials(broker: Any, meters: list[str], sql_url: str) -> dict[str, tuple[str, str]]:
    """Each demo meter: registered (active) in the meter registry and given its own broker user."""
    from registry import Registry
    from storage.sql import Database

    Registry(Database(sql_url)).provision_many(meters, "demo")
    return {m: (m, pw) for m, pw in broker.add_meters(meters).items()}


def _year_usage_answers(base: str, token: str, meter_id: str, start: str, stop: str) -> bool:
    import httpx

    try:
        r = httpx.get(
            f"{base}/v1/meters/{meter_id}/usage",
            params={"start": start, "stop": stop, "every": "1mo"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def start_demo(
    state: Path,
    households: int = 50,
    months: int = 13,
    firmware_meters: int = 3,
    speed: float = 1.0,
    port: int = 8000,
    duration_s: int = 30 * 86400,
    embedded: bool = False,
    minute_days: float = 7.0,
    backfill: bool = True,
    progress: bool = True,
    now_s: int | None = None,
) -> Demo:
    """Seed and start everything; returns once the API answers a year of usage."""
    t0 = time.monotonic()
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    stack: list = []
    try:
        return _start(
            state,
            stack,
            t0,
            households,
            months,
            firmware_meters,
            speed,
            port,
            duration_s,
            embedded,
            minute_days,
            backfill,
            progress,
            now_s,
        )
    except BaseException:
        for part in reversed(stack):
            try:
                part.stop() if hasattr(part, "stop") else None
            except Exception as err:  # failing to start: stop what did start, report the first error
                print(f"stopping {type(part).__name__}: {err}")
        raise


def _start(
    state: Path,
    stack: list,
    t0: float,
    households: int,
    months: int,
    firmware_meters: int,
    speed: float,
    port: int,
    duration_s: int,
    embedded: bool,
    minute_days: float,
    backfill: bool,
    progress: bool,
    now_s: int | None,
) -> Demo:
    from devservices.seed.run import Backfill, SeedSpec, is_influx, seed

    broker, broker_kind, store_url, store_kind = _services(state, embedded, stack)
    sql_url = f"sqlite:///{(state / 'wm.db').resolve()}"
    spec = SeedSpec(households, months, now_s or int(time.time()), minute_days=minute_days)
    seeded = seed(spec, store_url, sql_url, progress=progress)

    from billing.db import Database
    from billing.tokens import issue_token
    from ingest.config import IngestSettings
    from ingest.registry import RegistrySnapshot
    from ingest.worker import IngestWorker
    from storage.config import StorageSettings
    from storage.readings import open_store
    from storage.sql import Database as SqlDatabase

    storage = StorageSettings(readings_url=store_url, sql_url=sql_url)
    host, bport = broker.address.split(":")
    credentials = _meter_credentials(broker, [h.meter_id for h in seeded.plan.homes], sql_url)
    worker = IngestWorker(
        IngestSettings(
            broker_host=host,
            broker_port=int(bport),
            broker_user="wm-ingest",
            broker_password=broker.credentials["wm-ingest"],
            client_id="demo-ingest",
            state_path=str((state / "ingest-state").resolve()),
            storage=storage,
            batch_wait_s=0.2,
            gc_manual=False,  # the API shares this process: its garbage cycles need the usual collector
        ),
        open_store(store_url),
        meters=RegistrySnapshot(SqlDatabase(sql_url)),
    )
    worker.start()
    stack.append(worker)
    from ingest.http import OpsServer

    ops = OpsServer(worker, "127.0.0.1", free_port())
    ops.start()
    stack.append(ops)

    import uvicorn

    from billing.payments import DevProvider
    from dashboard_api.app import create_app
    from dashboard_api.config import ApiSettings

    operator_token = secrets.token_urlsafe(24)
    settings = ApiSettings(
        storage=storage,
        tokens=operator_token,
        photo_dir=(state / "photos").resolve(),
        verify_key_file=(state / "verify.key").resolve(),
        sms_sink_file=(state / "sms.jsonl").resolve(),
    )
    db = Database(sql_url)
    with db.session() as s:
        issue_token(s, "utility", OPERATOR)  # the console's operator, also in the database
        _holder_contacts(s, settings, seeded.plan)
    db.dispose()
    api_port = _port(port)
    app = create_app(settings, payment_provider=DevProvider())  # the demo's payments go to the dev sink
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True, name="api").start()
    wait_listening(api_port)
    base = f"http://127.0.0.1:{api_port}"
    plan = seeded.plan
    first = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(plan.origin_s))
    last = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(plan.now_s))
    while not _year_usage_answers(base, operator_token, plan.homes[0].meter_id, first, last):
        time.sleep(0.2)
    ready_s = time.monotonic() - t0
    demo = Demo(
        base,
        operator_token,
        seeded.resident_token,
        broker.address,
        broker_kind,
        store_url,
        store_kind,
        sql_url,
        seeded,
        ready_s,
        stack=stack,
        server=server,
        metrics_url=f"http://127.0.0.1:{ops.port}/metrics",
        sms_sink=str(settings.sms_sink_file),
    )

    if backfill and is_influx(store_url):
        demo.backfill = Backfill(spec, seeded, store_url, progress=progress).start()
        stack.append(demo.backfill)
    demo.broker_credentials = {
        k: v for k, v in broker.credentials.items() if k in ("wm-operator", "wm-ingest")
    }
    demo.fleet = _start_fleet(
        state, seeded, host, int(bport), firmware_meters, speed, duration_s, credentials
    )
    demo.alerts = _start_alerts(
        state, store_url, sql_url, host, int(bport), stack, ("wm-alerts", broker.credentials["wm-alerts"])
    )
    return demo


def _start_fleet(
    state: Path,
    seeded: Any,
    host: str,
    port: int,
    firmware_meters: int,
    speed: float,
    duration_s: int,
    credentials: dict[str, tuple[str, str]],
) -> threading.Thread:
    """The live meters, each going on from its home's seeded register, in a thread."""
    from hardware_sim.fleet import FleetSpec, run_fleet
    from hardware_sim.household import Courtyard

    plan = seeded.plan
    homes = {
        h.meter_id: (h.households[0] if len(h.households) == 1 else Courtyard(h.households))
        for h in plan.homes
    }
    registers = {m: (s.total_ml, s.seq, s.boot, s.ts_s) for m, s in seeded.homes.items()}
    spec = FleetSpec(
        meters=len(plan.homes),
        duration_s=duration_s,
        broker_host=host,
        broker_port=port,
        start_unix_s=plan.now_s,
        speed=speed,
        id_prefix=plan.homes[0].meter_id.rsplit("-", 1)[0],
        state_dir=(state / "boards").resolve(),
        progress=False,
        firmware_meters=firmware_meters,
        homes=homes,
        origin_unix_s=plan.origin_s,
        registers=registers,
        credentials=credentials,
    )
    # The first `firmware_meters` homes run the real firmware (the burst pipe among them), light meters the
    # rest.
    fleet = threading.Thread(target=run_fleet, args=(spec,), daemon=True, name="meters")
    fleet.start()
    return fleet


def _start_alerts(
    state: Path, store_url: str, sql_url: str, host: str, port: int, stack: list, login: tuple[str, str]
) -> Any:
    """The alert service (leaks, balance warnings, outbox), polling every 30 s from now on."""
    from billing.config import BillingSettings
    from billing.db import Database
    from billing.outbox import MqttPublisher
    from monitor.service import AlertService
    from storage.readings import open_store

    alerts = AlertService(
        open_store(store_url),
        Database(sql_url),
        BillingSettings(mqtt_host=host, mqtt_port=port),
        state / "monitor.json",
        MqttPublisher(host, port, "demo-monitor", user=login[0], password=login[1]),
    )
    stop = threading.Event()
    thread = threading.Thread(target=alerts.run, args=(stop, 30.0), daemon=True, name="alerts")
    thread.start()
    stack.append(_Stopper(stop, thread))
    return alerts


def _apps() -> list[str]:
    """The web apps the API serves (resident app, utility console), once they are built in."""
    import dashboard_api

    static = Path(dashboard_api.__file__).parent / "static"
    return [name for name in ("resident", "console") if (static / name / "index.html").exists()]


def holder_contact(index: int) -> tuple[str, str]:
    """The demo holder's phone on file and ID-card last 4 (home index i: 1380000iiii, iii + a check digit)."""
    return f"1380000{index:04d}", f"{index % 1000:03d}{'X' if index % 11 == 10 else index % 11}"


def _holder_contacts(session, settings, plan) -> None:  # noqa: ANN001 (Session, ApiSettings, Plan)
    """What each utility holds about its holders, so residents can bind with verification."""
    from billing.db import Account
    from billing.hashing import VerifyKey
    from billing.holders import set_contact

    key = VerifyKey(settings.verify_key_bytes())
    for home in plan.homes:
        account = (
            session.query(Account).filter_by(utility=home.utility, account_number=home.account_number).one()
        )
        set_contact(session, key, account.id, *holder_contact(home.index))


def banner(demo: Demo) -> str:
    """Where to look, and who to log in as."""
    plan = demo.seeded.plan
    resident_homes = [h for h in plan.homes if "resident" in h.roles]
    fixtures = {
        "leaks (open alerts)": [h.meter_id for h in plan.homes if "leak" in h.roles],
        "burst pipe from minute 3": [h.meter_id for h in plan.homes if "live_burst" in h.roles],
        "low balance (< 20 yuan)": [h.meter_id for h in plan.homes if "low_balance" in h.roles],
        "pending photo": [h.meter_id for h in plan.homes if "pending_photo" in h.roles],
        "courtyard meters (tiers moved)": [h.meter_id for h in plan.homes if "courtyard" in h.roles],
    }
    base = demo.base_url
    meter = plan.homes[0].meter_id
    first = time.strftime("%Y-%m-%d", time.gmtime(plan.origin_s))
    lines = [
        "",
        f"Water metering demo is running (API answered a year of usage {demo.ready_s:.1f} s after start).",
        f"  history : {len(plan.homes)} homes on beijing / shanghai / guangzhou tariffs, minute readings from"
        f" {first}; seeding took {demo.seeded.seconds['total']} s",
        f"  broker  : {demo.broker_kind} at {demo.broker}",
        f"  store   : {demo.store_kind}",
        f"  database: {demo.sql_url}",
        f"  API     : {base}/docs  (OpenAPI: {base}/openapi.json)",
        f"  page    : {base}/dashboard/",
        *[f"  {name:8}: {base}/dashboard/{name}/" for name in _apps()],
        f"  metrics : {demo.metrics_url}  (Prometheus: the ingest; grafana/ has dashboards for the store)",
        "",
        f"  operator (console): Authorization: Bearer {demo.operator_token}",
        *[
            f"  broker user {user} ({'config commands' if user == 'wm-operator' else 'reads readings'}): "
            f"password {pw}"
            for user, pw in demo.broker_credentials.items()
        ],
        f"  InfluxDB: {demo.store_url.split('//', 1)[-1].split('@', 1)[0].replace(':', ' password ', 1)}"
        if "@" in demo.store_url
        else "  InfluxDB: (embedded store)",
        "  meters  : each has its own broker user (its id) and password; unknown meters are refused",
        f"  resident ({', '.join(h.meter_id for h in resident_homes)}): "
        f"Authorization: Bearer {demo.resident_token}",
        "",
    ]
    lines += [f"  {k:31}: {', '.join(v)}" for k, v in fixtures.items()]
    unbound = next((h for h in plan.homes if "resident" not in h.roles), None)
    if demo.sms_sink and unbound is not None:
        phone, id_last4 = holder_contact(unbound.index)
        lines.append(
            f"  {'bind another home':31}: {unbound.utility} account {unbound.account_number} "
            f"(ID-card last 4: {id_last4}; SMS codes to {phone} land in {demo.sms_sink})"
        )
    if demo.photo:
        lines.append(
            f"  photo {demo.photo.get('photo_id')}: {demo.photo.get('status')} "
            f"({demo.photo.get('review_reason') or demo.photo.get('plausibility_reason')})"
        )
    if demo.backfill is not None:
        lines.append("  older minute readings are being written in the background (newest first)")
    lines += [
        "",
        "Try:",
        f"  curl -s -H 'Authorization: Bearer {demo.operator_token}' '{base}/v1/meters/{meter}/usage?"
        f"start={first}T00:00:00&every=1mo'",
        f"  curl -s -H 'Authorization: Bearer {demo.resident_token}' {base}/v1/me/accounts",
        "",
        "Ctrl-C stops everything; state is in .demo/.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.demo", description=__doc__)
    p.add_argument("--households", type=int, default=50)
    p.add_argument("--months", type=int, default=13, help="months of minute history")
    p.add_argument("--firmware-meters", type=int, default=3, help="meters running the real firmware")
    p.add_argument("--speed", type=float, default=1.0, help="virtual seconds per real second")
    p.add_argument("--port", type=int, default=8000, help="API port (a free one if taken)")
    p.add_argument("--duration", default="30d", help="how long the live meters run")
    p.add_argument("--no-backfill", action="store_true", help="keep only the recent minutes (InfluxDB)")
    p.add_argument(
        "--embedded",
        action="store_true",
        help="use the embedded broker and store even if mosquitto / influxd are installed",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from hardware_sim.cli import parse_duration

    demo = start_demo(
        STATE_DIR,
        args.households,
        args.months,
        args.firmware_meters,
        args.speed,
        args.port,
        parse_duration(args.duration),
        args.embedded,
        backfill=not args.no_backfill,
    )
    try:
        from devservices.seed.photo import upload_pending

        home = next(h for h in demo.seeded.plan.homes if "pending_photo" in h.roles)
        try:
            demo.photo = upload_pending(
                demo.base_url, demo.resident_token, home.meter_id, demo.seeded.homes[home.meter_id].total_ml
            )
        except Exception as err:  # the demo runs on without the photo fixture; say why
            demo.photo = {"photo_id": None, "status": f"upload failed: {err}"}
        print(banner(demo), flush=True)
        done = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: done.set())
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        while not done.is_set() and demo.fleet.is_alive():
            done.wait(1)
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
