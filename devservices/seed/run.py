"""Seed the demo: a year of history per home into the readings store and the billing database, fast.

Homes are computed and written in worker processes (register, hour spans, day litres; each writes its
own lines to InfluxDB), while this process charges the ledger through billing as each home's litres
arrive. Older minute readings follow in the background (`Backfill`), newest day first.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse

from tqdm import tqdm

from billing.db import Database
from devservices.seed import ledger
from devservices.seed.history import day_litres, days_between, hour_spans, register
from devservices.seed.plan import Plan, make_plan
from devservices.seed.readings import (
    Window,
    minute_lines,
    recent_window,
    write_embedded,
    write_influx,
    write_lines,
    write_marker,
)
from storage.readings import open_store
from storage.readings.influx import InfluxStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeedSpec:
    """What to seed: `households` homes, `months` of minute history ending at `now_s`."""

    households: int = 50
    months: int = 13
    now_s: int = 0
    seed: int = 1
    id_prefix: str = "demo"
    minute_days: float = 7.0  # days of minute readings written before the API starts (the rest: backfill)
    workers: int = 2

    def plan(self) -> Plan:
        return make_plan(self.households, self.months, self.now_s, self.seed, self.id_prefix)


@dataclass
class HomeState:
    """Where a home's register stands at the end of the history: the live meter goes on from here."""

    meter_id: str
    total_ml: int
    seq: int
    boot: int
    ts_s: int
    litres: dict = field(repr=False, default_factory=dict)  # local day -> Decimal litres charged
    window: Window | None = None  # minute readings written so far


@dataclass
class Seeded:
    """What seeding made."""

    plan: Plan
    homes: dict[str, HomeState]
    account_ids: dict[str, int]
    resident_token: str
    seconds: dict[str, float]
    lines: int


def _seed_home(spec: SeedSpec, index: int, store_url: str) -> HomeState:
    """Worker: one home's register, roll-ups and recent minutes into the store; its day litres."""
    plan = spec.plan()
    home = plan.homes[index]
    reg = register(home, plan)
    window = recent_window(reg, spec.minute_days)
    spans = hour_spans(reg)
    store = open_store(store_url)
    try:
        if isinstance(store, InfluxStore):
            write_influx(store, reg, spans, window)
        else:
            write_embedded(store, reg, window)
    finally:
        store.close()
    days = days_between(plan.first_day, plan.last_full_day)
    litres = day_litres(reg, spans, days, plan.zone_name)
    return HomeState(home.meter_id, reg.last_total_ml, reg.last_seq, 1, reg.last_ts_s, litres, window)


def seed(spec: SeedSpec, store_url: str, sql_url: str, progress: bool = True) -> Seeded:
    """Seed the store and the billing database; returns where every register stands."""
    t0 = time.monotonic()
    plan = spec.plan()
    db = Database(sql_url)
    db.create_all()
    account_ids = ledger.create_accounts(db, plan)
    token = ledger.bind_resident(db, plan)
    homes: dict[str, HomeState] = {}
    ctx = multiprocessing.get_context("spawn")  # the demo already runs threads: never fork them
    with ProcessPoolExecutor(max_workers=spec.workers, mp_context=ctx) as pool:
        futures = [pool.submit(_seed_home, spec, i, store_url) for i in range(len(plan.homes))]
        with tqdm(total=len(futures), desc="seeding homes", unit="home", disable=not progress) as bar:
            for fut in as_completed(futures):
                state = fut.result()
                homes[state.meter_id] = state
                # While the workers write the next homes, this process charges this one's year.
                home = next(h for h in plan.homes if h.meter_id == state.meter_id)
                ledger.charge_history(db, plan, home, account_ids[home.meter_id], state.litres)
                bar.update()
    t_store = time.monotonic() - t0
    store = open_store(store_url)
    if isinstance(store, InfluxStore):
        write_marker(store, plan.now_s)
    store.close()
    ledger.finish_ledger(db, plan, account_ids)
    db.dispose()
    seconds = {"store": round(t_store, 1), "total": round(time.monotonic() - t0, 1)}
    return Seeded(plan, homes, account_ids, token, seconds, 0)


def is_influx(url: str) -> bool:
    """Whether a store URL names InfluxDB (which gets roll-ups and a background backfill)."""
    return urlparse(url).scheme.startswith("influx")


class Backfill:
    """Writes the older minute readings of every home into InfluxDB, newest day first, in a thread."""

    def __init__(self, spec: SeedSpec, seeded: Seeded, store_url: str, progress: bool = True):
        self.spec = spec
        self.seeded = seeded
        self.store_url = store_url
        self.progress = progress
        self.done = threading.Event()
        self.written = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backfill", daemon=True)

    def start(self) -> Backfill:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the backfill; True when it finished."""
        return self.done.wait(timeout)

    def _run(self) -> None:
        try:
            self._backfill()
        except Exception as err:  # report in the demo's output; the live demo goes on without it
            self.error = f"{type(err).__name__}: {err}"
            log.exception("backfill failed")
        finally:
            self.done.set()

    def _backfill(self) -> None:
        plan = self.seeded.plan
        regs = {h.meter_id: register(h, plan) for h in plan.homes}
        his = {m: s.window.lo if s.window else 0 for m, s in self.seeded.homes.items()}
        total = sum(his.values())
        day = 1440
        store = open_store(self.store_url)
        assert isinstance(store, InfluxStore)
        try:
            with tqdm(
                total=total,
                desc="backfilling minutes",
                unit="reading",
                unit_scale=True,
                disable=not self.progress,
                mininterval=2.0,
            ) as bar:
                while any(hi > 0 for hi in his.values()) and not self._stop.is_set():
                    for meter, hi in his.items():
                        if hi <= 0:
                            continue
                        lo = max(0, hi - day)
                        n = write_lines(store, minute_lines(regs[meter], Window(lo, hi)))
                        his[meter] = lo
                        self.written += n
                        bar.update(n)
        finally:
            store.close()


def total_litres(state: HomeState) -> Decimal:
    """Litres charged over the whole history."""
    return sum(state.litres.values(), Decimal(0))


def days_list(plan: Plan) -> list:
    """The local days the ledger charges."""
    return days_between(plan.first_day, plan.last_full_day)
