"""Leak alerts through the API: typed figures (in the OpenAPI schema too), alerts for the utility alone,
and the resident's "that was me"."""

from __future__ import annotations

from sqlalchemy import func, select

from billing.alerts import Delivery
from billing.db import Alert, LeakFeedback, OutboxMessage
from billing.leak_alerts import LeakAlertSink
from leaks.model import LeakAlert, LeakEvent, UsageNotice
from tests.billing.conftest import GUANGZHOU

T0 = 1_772_409_600
HOOK = Delivery(webhooks=(), mqtt_topic_prefix="wm/v1/alerts")


def _burst(meter: str, status: str = "open") -> LeakEvent:
    a = LeakAlert(
        meter,
        "burst",
        T0 + 600,
        T0 + 1680,
        1500.0,
        0.9,
        {"rules": ["sustained_flow"]},
        "open",
        T0 + 1680,
        rule="sustained_flow",
        volume_l=450.0,
    )
    return LeakEvent("open", a)


def _leaks(api, who, kind="leak"):
    return [a for a in api.client.get("/v1/alerts", headers=who).json() if a["kind"] == kind]


def _bind(api, who):
    r = api.bind(who, "guangzhou", GUANGZHOU)  # the verified binding (SMS code and ID-card digits)
    assert r.status_code == 201, r.text


def test_leak_figures_are_typed_fields_for_residents_and_operators(api, accounts, db):
    LeakAlertSink(db, HOOK).handle(_burst("gz-1"))
    _bind(api, api.alice)
    [a] = _leaks(api, api.h(api.alice))
    leak = a["leak"]
    assert a["kind"] == "leak" and a["account_id"] == accounts["guangzhou"]
    assert leak["leak_kind"] == "burst" and leak["rule"] == "sustained_flow" and leak["rate_lph"] == 1500.0
    assert leak["volume_l"] == "450.000" and leak["per_day_l"] == "36000.000"
    # 450 L at Guangzhou's first tier (2.55 yuan/m3); 36 m3 a day if not fixed crosses into tier 3.
    assert leak["cost_yuan"] == "1.15" and float(leak["per_day_yuan"]) > 36 * 2.55
    assert leak["started_at"].startswith("2026-03-02T00:10") and leak["detected_at"].startswith(
        "2026-03-02T00:28"
    )
    assert a["opened_at"].startswith("2026-03-02T00:28")  # data time, not when it was processed
    schema = api.app.openapi()["components"]["schemas"]
    assert {
        "leak_kind",
        "rate_lph",
        "volume_l",
        "cost_yuan",
        "per_day_l",
        "per_day_yuan",
        "started_at",
        "stopped_at",
    } <= set(schema["LeakFigures"]["properties"])
    assert [x["id"] for x in _leaks(api, api.op)] == [a["id"]]
    assert api.client.get("/v1/alerts", headers=api.h(api.bob)).json() == []
    cost = _leaks(api, api.h(api.alice), "leak_cost")
    assert len(cost) == 1 and cost[0]["leak"] is None


def test_an_alert_for_the_utility_alone_is_the_operators(api, accounts, db):
    r = LeakAlertSink(db, HOOK, utility="beijing").handle(_burst("unbound-7"))
    assert api.client.get("/v1/alerts", headers=api.h(api.alice)).json() == []
    [a] = _leaks(api, api.op)
    assert a["account_id"] is None and a["leak"]["utility"] is True and a["meter_id"] == "unbound-7"
    for path in (f"/v1/alerts/{r.alert_id}/acknowledge", f"/v1/alerts/{r.alert_id}/feedback"):
        assert api.client.post(path, headers=api.h(api.alice), json={"verdict": "mine"}).status_code == 404
    ack = api.client.post(f"/v1/alerts/{r.alert_id}/acknowledge", headers=api.op)
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"


def test_that_was_me_closes_the_alert_and_queues_it_for_the_detector(api, accounts, db):
    r = LeakAlertSink(db, HOOK).handle(_burst("gz-1"))
    _bind(api, api.alice)
    path = f"/v1/alerts/{r.alert_id}/feedback"
    assert api.client.post(path, headers=api.h(api.bob), json={"verdict": "mine"}).status_code == 404
    assert api.client.post(path, headers=api.h(api.alice), json={"verdict": "maybe"}).status_code == 422
    done = api.client.post(path, headers=api.h(api.alice), json={"verdict": "mine"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "resolved" and done.json()["leak"]["feedback"]["verdict"] == "mine"
    assert api.client.post(path, headers=api.h(api.alice), json={"verdict": "not_mine"}).status_code == 409
    with db.session() as s:
        fb = s.scalars(select(LeakFeedback)).one()
        assert (fb.meter_id, fb.verdict, fb.by, fb.applied_at) == ("gz-1", "mine", "alice", None)
        assert float(fb.rate_lph) == 1500.0
        events = [
            m.payload["event"]
            for m in s.scalars(
                select(OutboxMessage).where(OutboxMessage.alert_id == r.alert_id).order_by(OutboxMessage.id)
            )
        ]
    assert events == ["alert.opened", "alert.resolved"]


def test_not_mine_on_an_unusual_use_notice_opens_a_leak_alert(api, accounts, db):
    sink = LeakAlertSink(db, HOOK)
    n = UsageNotice("gz-1", T0, T0 + 1800, 780.0, 390.0, 30)
    r = sink.handle_notice(n)
    assert r.created
    _bind(api, api.alice)
    [a] = _leaks(api, api.h(api.alice), "unusual_use")
    assert (
        a["kind"] == "unusual_use"
        and a["leak"]["leak_kind"] == "unusual_use"
        and "was this you" in a["title"]
    )
    got = api.client.post(
        f"/v1/alerts/{r.alert_id}/feedback", headers=api.h(api.alice), json={"verdict": "not_mine"}
    )
    assert got.status_code == 200
    with db.session() as s:
        kinds = sorted((a.kind, a.details.get("leak_kind"), a.state) for a in s.scalars(select(Alert)))
        assert ("leak", "burst", "open") in kinds
        assert s.scalar(select(func.count()).select_from(LeakFeedback)) == 1
    # The draw ended: the notice closes (a second "ended" changes nothing).
    from dataclasses import replace

    sink.handle_notice(replace(n, status="ended", stopped_at=T0 + 3600))
    sink.handle_notice(replace(n, status="ended", stopped_at=T0 + 3600))
    with db.session() as s:
        assert s.get(Alert, r.alert_id).state == "resolved"
