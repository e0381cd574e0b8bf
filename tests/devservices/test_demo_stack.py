"""`make demo` reduced (6 homes, the same code): a year of history answered fast, in the store and the
ledger alike, live meters going on from the seeded registers, and the demo's fixtures present."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from billing.db import Database
from billing.ledger import daily_volumes, entries
from core.consumption import mark, usage
from core.tariffs import tariff_for
from core.timezones import day_bounds_s, zone
from core.usage import MeterGrid, usage_from_grid
from devservices.demo import start_demo
from devservices.ports import free_port
from devservices.seed.photo import upload_pending
from devservices.seed.run import total_litres
from storage.readings import open_store
from tests.conftest import code_in, wait_for

LIVE_S = 2 * 3600
READY_BOUND_S = 60.0  # the brief's bound for the full demo; the reduced one must meet it too


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    state = tmp_path_factory.mktemp("demo") / "state"
    now_s = int(time.time()) - 86400  # history ends a day ago: the live meters run 2 h at full speed
    d = start_demo(
        state,
        households=6,
        months=13,
        firmware_meters=1,
        speed=0,
        port=free_port(),
        duration_s=LIVE_S,
        minute_days=2,
        backfill=False,
        progress=False,
        now_s=now_s,
    )
    yield d
    d.stop()


@pytest.fixture(scope="module")
def api(demo):
    with httpx.Client(
        base_url=demo.base_url, headers={"Authorization": f"Bearer {demo.operator_token}"}, timeout=120
    ) as c:
        yield c


@pytest.fixture(scope="module")
def db(demo):
    database = Database(demo.sql_url)
    yield database
    database.dispose()


def test_the_api_answers_a_year_of_usage_within_the_bound(demo):
    assert demo.ready_s < READY_BOUND_S
    assert demo.seeded.plan.now_s - demo.seeded.plan.origin_s > 390 * 86400


def test_a_year_at_one_month_equals_the_seeded_days_and_the_ledger(demo, api, db):
    plan = demo.seeded.plan
    tz = zone(plan.zone_name)
    start_s = day_bounds_s(plan.first_day, tz)[0]
    stop_s = day_bounds_s(plan.last_full_day, tz)[1]
    for home in plan.homes:
        seeded = demo.seeded.homes[home.meter_id].litres
        r = api.get(
            f"/v1/meters/{home.meter_id}/usage",
            params={"start": _iso(start_s), "stop": _iso(stop_s), "every": "1mo", "tz": plan.zone_name},
        )
        assert r.status_code == 200, r.text
        months = r.json()["intervals"]
        assert len(months) >= 14
        by_month: dict[str, Decimal] = {}
        for d, litres in seeded.items():
            by_month[d.strftime("%Y-%m")] = by_month.get(d.strftime("%Y-%m"), Decimal(0)) + litres
        this_month = plan.last_full_day.strftime("%Y-%m")
        whole = [m for m in months if m["start"][:7] < this_month and m["start"][:7] in by_month]
        assert len(whole) >= 12  # the month the history starts in counts from its first reading
        for m in whole:
            assert Decimal(str(m["used_l"])) == by_month[m["start"][:7]] > 0, m["start"]
        with db.session() as s:
            charged = daily_volumes(s, demo.seeded.account_ids[home.meter_id])
        # The monitor charges the days after the history (here: the live day) through VEE on its own.
        assert {d: v for d, v in charged.items() if d <= plan.last_full_day} == seeded
        assert sum(seeded.values()) == total_litres(demo.seeded.homes[home.meter_id])


def test_ledger_charges_are_the_tariff_applied_to_those_litres(demo, db):
    plan = demo.seeded.plan
    for home in plan.homes:
        tariff = tariff_for(home.utility)
        account_id = demo.seeded.account_ids[home.meter_id]
        with db.session() as s:
            rows = entries(s, account_id, limit=10_000)
            charges = [e for e in rows if e.kind == "charge"]
            kinds = {e.kind for e in rows}
        assert {"charge", "topup"} <= kinds
        periods: dict = {}
        for e in charges:
            start = tariff.period_start(e.day)
            vol, amount = periods.get(start, (Decimal(0), Decimal(0)))
            periods[start] = (vol + e.volume_l, amount - e.amount)
        assert len(periods) >= 2
        for vol, paid in periods.values():
            assert paid == tariff.cost_of_litres(vol)
        balance = sum((e.amount for e in rows), Decimal(0))
        assert balance == rows[0].balance_after
    with db.session() as s:
        corrections = [
            e
            for h in plan.homes
            for e in entries(s, demo.seeded.account_ids[h.meter_id], 10_000)
            if e.kind == "correction"
        ]
    assert len(corrections) == 1


def test_annual_tiers_have_moved_for_the_courtyard_meters_and_forecasts_have_a_year(demo, api, db):
    plan = demo.seeded.plan
    moved = []
    for home in plan.homes:
        tariff = tariff_for(home.utility)
        if "courtyard" not in home.roles or tariff.period != "annual":
            continue
        with db.session() as s:
            vols = daily_volumes(s, demo.seeded.account_ids[home.meter_id])
        by_period: dict = {}
        for d, v in vols.items():
            by_period[tariff.period_start(d)] = by_period.get(tariff.period_start(d), Decimal(0)) + v
        bound_l = tariff.tiers[0].up_to_m3 * 1000
        moved.append(max(by_period.values()) > bound_l)
    assert moved and all(moved)
    account_id = demo.seeded.account_ids[plan.homes[0].meter_id]
    r = api.get(f"/v1/accounts/{account_id}/forecast")
    assert r.status_code == 200, r.text
    assert r.json()["history_days"] >= 365


def test_hourly_rollups_agree_with_the_minute_readings(demo, api):
    """Hours answered from the seeded roll-ups equal the rule over the stored minute readings."""
    plan = demo.seeded.plan
    store = open_store(demo.store_url)
    try:
        for home in plan.homes[:3]:
            b0 = plan.now_s - plan.now_s % 3600 - 36 * 3600
            bn = b0 + 30 * 3600
            r = api.get(
                f"/v1/meters/{home.meter_id}/usage",
                params={"start": _iso(b0), "stop": _iso(bn), "every": "1h", "tz": "UTC"},
            )
            assert r.status_code == 200, r.text
            api_ml = [round(iv["used_l"] * 1000) for iv in r.json()["intervals"]]
            anchor = store.last_reading(home.meter_id, b0)
            steps = [(s, span) for s, span, _p in store.step_spans(home.meter_id, b0, bn, 3600)]
            grid = MeterGrid(steps, None if anchor is None else usage_anchor(anchor))
            mine = usage_from_grid(grid, list(range(b0, bn + 1, 3600)), 3600)
            assert api_ml == [iv.used_ml for iv in mine.intervals]
            assert sum(api_ml) > 0
    finally:
        store.close()


def usage_anchor(reading):
    from core.consumption import Span

    return Span.of(mark(reading))


def test_live_meters_go_on_from_the_seeded_registers(demo):
    plan = demo.seeded.plan
    demo.fleet.join(timeout=300)
    assert not demo.fleet.is_alive()
    store = open_store(demo.store_url)
    end = plan.now_s + LIVE_S
    try:
        wait_for(
            lambda: all(
                store.last_reading(h.meter_id, end) and store.last_reading(h.meter_id, end).ts_s >= end - 60
                for h in plan.homes
            ),
            timeout_s=120,
            what="the live readings",
        )
        for i, home in enumerate(plan.homes):
            seeded = demo.seeded.homes[home.meter_id]
            live = [r for r in store.readings(home.meter_id, plan.now_s, end) if r.ts_s > seeded.ts_s]
            assert len(live) >= LIVE_S // 60 - 1
            assert live[0].total_ml >= seeded.total_ml
            assert live[0].total_ml - seeded.total_ml < 100_000  # no jump: it counted on, not restarted
            if i >= 1:  # light meters: the same board, the next seq
                assert (live[0].boot, live[0].seq) == (seeded.boot, seeded.seq + 1)
            else:  # the firmware board was installed with the register and booted once
                assert live[0].boot == seeded.boot + 1
            before = store.readings(home.meter_id, seeded.ts_s - 3600, seeded.ts_s)
            used_ml, breaks = usage(mark(before[0]), [mark(r) for r in before[1:] + live])
            assert breaks == 0
            assert used_ml == live[-1].total_ml - before[0].total_ml
    finally:
        store.close()


def test_fixtures_leaks_low_balance_and_a_pending_photo(demo, api):
    plan = demo.seeded.plan
    leak_meters = {h.meter_id for h in plan.homes if "leak" in h.roles}

    def open_alerts():
        r = api.get("/v1/fleet/alerts")
        return r.json() if r.status_code == 200 else []

    alerts = wait_for(
        lambda: (
            (a := open_alerts()) and leak_meters <= {x["meter_id"] for x in a if x["kind"] == "leak"} and a
        ),
        timeout_s=180,
        what="leak alerts of the leaking homes",
    )
    low = next(h for h in plan.homes if "low_balance" in h.roles)
    low_id = demo.seeded.account_ids[low.meter_id]
    assert any(a["kind"] == "balance_low" and a["account_id"] == low_id for a in alerts)
    detail = api.get(f"/v1/accounts/{low_id}").json()
    assert Decimal(detail["balance"]) < 20
    leak = next(a for a in alerts if a["kind"] == "leak")
    with Database(demo.sql_url).session() as s:
        from billing.db import Alert

        stored = s.get(Alert, leak["alert_id"])
        assert stored.details["rate_lph"] > 1 and stored.details["started_at"]
    home = next(h for h in plan.homes if "pending_photo" in h.roles)
    store = open_store(demo.store_url)
    try:  # the register now: the seeded total plus what the live meter counted since
        total_ml = store.last_reading(home.meter_id, plan.now_s + LIVE_S + 3600).total_ml
    finally:
        store.close()
    rec = upload_pending(demo.base_url, demo.resident_token, home.meter_id, total_ml)
    assert rec["status"] == "needs_confirmation"
    assert rec["previous_m3"] == pytest.approx(total_ml / 1e6)
    # Counted in whole ml (291.219 against 291.217 m³ is 2 L exactly, and in float m³ it came out as
    # 0.0020000000000095: failed a clean-clone run). The photo's last red wheel is half-way, the hardest
    # wheel to read: on about 1 of 20 such renders the reader loses it, or the one before it, and says so
    # (review: low_confidence or window_may_continue; 291.22 proposed for 291.228 failed a run). Once the
    # outline found was the black wheels' faces only and 291.3 was read surely for 291.3655: the upload
    # route now gives the reader the meter's last reading, so that is `lower_than_previous`, in review
    # (the truncation itself is left for the reader, docs/ocr.md). So: within 2 L when the reader is sure of
    # every wheel, else the integer m³ and the first red wheel right. When only the red wheels read
    # unsurely the reader gives the black wheels' whole m³ (docs/ocr.md, round 8): below the meter's last
    # reading, so it waits for a person as `lower_than_previous`, the full reading among the candidates.
    assert rec["value_m3"] is not None
    off_ml = abs(round(rec["value_m3"] * 1e6) - total_ml)
    whole_m3 = rec["value_m3"] == total_ml // 1_000_000
    assert (
        off_ml <= 2000
        or (rec["needs_review"] and off_ml < 100_000)
        or (whole_m3 and rec["needs_review"] and rec["review_reason"] == "lower_than_previous")
    ), (rec, total_ml)


def test_the_banner_says_where_to_look_and_the_metrics_answer(demo):
    from devservices.demo import banner

    text = banner(demo)
    for needle in (
        demo.base_url + "/docs",
        demo.operator_token,
        demo.resident_token,
        demo.broker,
        demo.metrics_url,
    ):
        assert needle in text
    r = httpx.get(demo.metrics_url, timeout=30)
    assert r.status_code == 200 and "ingest" in r.text


def test_the_resident_binds_another_home_with_a_code_from_the_sms_sink(demo):
    """The demo holds each holder's phone and ID-card digits; codes land in the development sink."""

    from billing.sms import read_sink
    from devservices.demo import banner, holder_contact

    home = next(h for h in demo.seeded.plan.homes if "resident" not in h.roles)
    phone, id_last4 = holder_contact(home.index)
    assert demo.sms_sink in banner(demo) and home.account_number in banner(demo)
    headers = {"Authorization": f"Bearer {demo.resident_token}"}
    with httpx.Client(base_url=demo.base_url, headers=headers, timeout=120) as c:
        number = {"utility": home.utility, "account_number": home.account_number}
        r = c.post("/v1/accounts/bindings", json=number)
        assert r.status_code == 202, r.text
        proofs = {}
        if "sms" in r.json()["methods"]:
            texts = wait_for(lambda: [m for m in read_sink(demo.sms_sink) if m.to == phone], what="the code")
            proofs["sms_code"] = code_in(texts[-1].text)
        if "id_last4" in r.json()["methods"]:
            proofs["id_last4"] = id_last4
        request_id = r.json()["request_id"]
        v = c.post(f"/v1/accounts/bindings/{request_id}/verify", json={**proofs, "name": "new home"})
        assert v.status_code == 201, v.text
        assert home.meter_id in v.json()["meters"] and v.json()["access"] == "holder"
        # Leave the demo as it was.
        assert c.delete(f"/v1/accounts/{v.json()['id']}/binding").status_code == 204
