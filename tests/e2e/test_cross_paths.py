"""Every path that turns register totals into litres gives the same litres, and the bill is one bill.

Hypothesis draws one meter's readings with every kind of step the rule distinguishes (use, reverse flow,
resets on a new boot, resets on one boot, upward register sets, gaps of minutes to hours, a DST change
in New York) and delivers them in shuffled, overlapping, partly repeated batches. Then, for the same
readings and range:
- the usage API at 1m, 15m, 1h, 1d and 1mo, in Asia/Shanghai and America/New_York, per interval;
- fleet top consumers;
- VEE's validated usage (nothing estimated: gaps are shorter than its gap limit);
- the ledger's day charges, fed by VEE's series (the production wiring), and VEE's determinants;
all equal the independent oracle (tests/oracle.py, the rule written from its words), and the ledger's
charges equal the tariff applied to those litres, to the fen.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.accounts import create_account
from billing.db import Database, LedgerEntry
from billing.scheduler import BalanceScheduler
from core.readings import Reading
from core.tariffs import tariff_for
from core.timezones import zone
from dashboard_api.app import create_app
from dashboard_api.config import ApiSettings
from storage.config import StorageSettings
from tests.oracle import used_per_interval
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.service import VeeConsumption, VeeService
from vee.tariff import determinants

SH = zone("Asia/Shanghai")
NY = zone("America/New_York")
T0 = int(datetime(2025, 3, 8, tzinfo=SH).timestamp())  # the US spring-forward night is 2025-03-09
START = T0 - 3600  # before every reading: no anchor, counting starts at the first reading
STOP = int(datetime(2025, 3, 12, tzinfo=SH).timestamp())
NOW = STOP + 86_400
VEE = VeeConfig(gap_s=7 * 86_400, estimate_step_s=3600, max_estimation_s=30 * 86_400, spike_min_ml=10**12)
EVERY = ("1m", "15m", "1h", "1d", "1mo")
_ids = itertools.count(1)


@st.composite
def histories(draw) -> list[Reading]:
    """A device's readings in (T0, STOP - 1 h], seq rising within each boot."""
    n = draw(st.integers(2, 40))
    t, total, boot, seq = T0, draw(st.integers(0, 2_000_000)), 1, 0
    out = []
    for _ in range(n):
        t += draw(st.sampled_from([60, 60, 120, 900, 3600, 3 * 3600, 7 * 3600, 11 * 3600]))
        if t > STOP - 3600:
            break
        kind = draw(st.sampled_from(["use", "use", "use", "reverse", "reset", "swap", "set_up", "still"]))
        if kind == "use":
            total += draw(st.integers(1, 40_000))
        elif kind == "reverse":  # within the 50 L reverse-flow limit, same boot: held
            total = max(0, total - draw(st.integers(1, 30_000)))
        elif kind == "reset":  # register cleared on a new boot
            boot, seq, total = boot + 1, 0, draw(st.integers(0, 2_000))
        elif kind == "swap":  # a big drop on the same boot (unannounced swap)
            total = max(0, total - draw(st.integers(60_000, 900_000)))
        elif kind == "set_up":  # set_total_l upward: a new boot
            boot, seq, total = boot + 1, 0, total + draw(st.integers(2_000_000, 60_000_000))
        out.append(Reading("", t, total, seq, boot))
        seq += 1
    return out


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def _bounds(body: dict) -> list[int]:
    b = [int(datetime.fromisoformat(i["start"]).timestamp()) for i in body["intervals"]]
    return [*b, int(datetime.fromisoformat(body["intervals"][-1]["end"]).timestamp())]


def _client(tmp, readings_url: str):
    settings = ApiSettings(
        storage=StorageSettings(readings_url=readings_url, sql_url=f"sqlite:///{tmp}/wm.db"),
        tokens="cross-path-operator-token",
        photo_dir=tmp / "photos",
    )
    client = TestClient(create_app(settings, vee_config=VEE))
    client.headers["Authorization"] = "Bearer cross-path-operator-token"
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cross")
    with _client(tmp, f"sqlite:///{tmp}/readings.db") as client:
        yield client


@pytest.fixture(scope="module")
def influx_world(tmp_path_factory, influx):
    """The same app on a real InfluxDB: 1h, 1d and 1mo read the span roll-ups the store wrote."""
    tmp = tmp_path_factory.mktemp("cross-influx")
    with _client(tmp, influx.store_url(f"cross_{next(_ids)}")) as client:
        yield client


def _deliver(store, rows: list[Reading], rnd: random.Random) -> None:
    """Every reading, in shuffled batches (late, out of order), plus overlapping ones delivered again."""
    cuts = sorted({0, len(rows), *(rnd.randrange(len(rows) + 1) for _ in range(len(rows) // 3))})
    batches = [rows[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    again = [rows[i : i + rnd.randint(1, 6)] for i in rnd.sample(range(len(rows)), k=len(rows) // 4)]
    batches += again
    rnd.shuffle(batches)
    for b in batches:
        store.write_readings(b)
    assert store.count_readings(rows[0].meter) == len(rows)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(histories(), st.randoms(use_true_random=False))
def test_every_path_gives_the_rules_litres_and_one_bill(world, drawn, rnd):
    check_every_path(world, drawn, rnd)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(histories(), st.randoms(use_true_random=False))
def test_every_path_agrees_on_influxdb_with_span_rollups(influx_world, drawn, rnd):
    check_every_path(influx_world, drawn, rnd)
    store = influx_world.app.state.store
    assert store.has_rollups()


def check_every_path(client: TestClient, drawn: list[Reading], rnd: random.Random) -> None:
    """The usage API at every resolution, top consumers, VEE, the ledger and the determinants."""
    app = client.app
    k = next(_ids)
    meter = f"x-{k}"
    rows = [Reading(meter, r.ts_s, r.total_ml, r.seq, r.boot) for r in drawn]
    _deliver(app.state.store, rows, rnd)

    totals = set()
    for tz, every in itertools.product(("Asia/Shanghai", "America/New_York"), EVERY):
        params = {"start": _iso(START), "stop": _iso(STOP), "every": every, "tz": tz}
        r = client.get(f"/v1/meters/{meter}/usage", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        want, breaks = used_per_interval(rows, _bounds(body))
        assert [round(i["used_l"] * 1000) for i in body["intervals"]] == want, (tz, every)
        assert body["resets"] == breaks
        totals.add(round(body["total_l"] * 1000))
    truth = used_per_interval(rows, [START, STOP])[0][0]
    assert totals == {truth}

    top = client.get(
        "/v1/fleet/top-consumers", params={"start": _iso(START), "stop": _iso(STOP), "limit": 1000}
    )
    assert {c["meter_id"]: round(c["used_l"] * 1000) for c in top.json()}.get(meter, 0) == truth

    vee = client.get(
        f"/v1/vee/meters/{meter}/usage", params={"start": _iso(START), "stop": _iso(STOP), "every": "1h"}
    )
    assert vee.status_code == 200, vee.text
    vbody = vee.json()
    assert not vbody["estimated"]
    assert round(vbody["total_l"] * 1000) == truth
    vb = [START] + [int(datetime.fromisoformat(i["end"]).timestamp()) for i in vbody["intervals"]]
    assert [round(i["used_l"] * 1000) for i in vbody["intervals"]] == used_per_interval(rows, vb)[0]

    # The ledger, charged day by day by the balance scheduler from VEE's series (the monitor's wiring).
    db: Database = app.state.database
    number = f"{440100000000 + k}"
    days = [date(2025, 3, 7) + timedelta(days=d) for d in range(6)]
    installed = datetime(2025, 3, 7, tzinfo=SH)
    with db.session() as s:
        meters = [{"meter_id": meter, "installed_at": installed}]
        account = create_account(s, "guangzhou", number, meters=meters).id
    service = VeeService(app.state.store, VeeDb(db), VEE)
    scheduler = BalanceScheduler(
        db, per_run=lambda: VeeConsumption(service, lambda _m: "Asia/Shanghai", lambda: NOW)
    )
    scheduler.evaluate_account(account, datetime(2025, 3, 13, 0, 30, tzinfo=SH))
    with db.session() as s:
        entries = s.query(LedgerEntry).filter(LedgerEntry.account_id == account).all()
        per_day = {e.day: round(e.volume_l * 1000) for e in entries}
        charged = -sum((e.amount for e in entries), Decimal(0))
    day_bounds = [
        int(datetime(d.year, d.month, d.day, tzinfo=SH).timestamp()) for d in [*days, days[-1] + timedelta(1)]
    ]
    assert [per_day[d] for d in days] == used_per_interval(rows, day_bounds)[0]
    gz = tariff_for("guangzhou")
    assert charged == gz.cost_of_ml(sum(per_day.values()))
    series = service.view(meter, day_bounds[0], day_bounds[-1], NOW).series
    det = determinants(series, day_bounds[0], day_bounds[-1], gz)
    assert det.charge_yuan == charged and det.volume_ml == sum(per_day.values())
    assert sum(det.tier_ml) == det.volume_ml
