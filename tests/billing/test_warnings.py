"""Balance warnings: threshold, days left under the tariff, leak cost; scheduler cadence; alert lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from billing.alerts import Delivery, acknowledge, list_alerts
from billing.balance import WarningRules, days_left, evaluate
from billing.db import Alert, OutboxMessage
from billing.leak_alerts import LeakAlertSink
from billing.payments import notify
from billing.scheduler import BalanceScheduler
from core.tariffs import tariff_for
from leaks.model import LeakAlert, LeakEvent
from tests.billing.conftest import BEIJING, GUANGZHOU

D = Decimal
HOOK = Delivery(webhooks=("http://127.0.0.1:9/hook",), mqtt_topic_prefix="wm/v1/alerts")


def _live(db, account_id):
    with db.session() as s:
        return {a.kind: a for a in list_alerts(s, [account_id], "live")}


def test_days_left_follows_the_tiers():
    bj = tariff_for("beijing")
    # 100 yuan at 1 m³/day: 20 days at 5.00 in tier 1, but only 14 at 7.00 just past 180 m³.
    assert days_left(D(100), bj, date(2024, 3, 1), D(0), D(1000)) == 20
    assert days_left(D(100), bj, date(2024, 3, 1), D(180000), D(1000)) == 14
    assert days_left(D(0), bj, date(2024, 3, 1), D(0), D(1000)) == 0
    assert days_left(D(100), bj, date(2024, 3, 1), D(0), D(0)) is None
    # Guangzhou resets the position each month: crossing 1 Feb drops back to 2.55.
    gz = tariff_for("guangzhou")
    assert days_left(D(50), gz, date(2024, 1, 30), D(26000), D(1000)) > days_left(
        D(50), gz, date(2024, 1, 30), D(26000), D(3000)
    )


def test_scheduler_charges_and_warns_at_least_every_6h(db, accounts):
    bj = accounts["beijing"]
    with db.session() as s:
        notify(s, "alipay", "p1", "beijing", BEIJING, "60.00")
    sched = BalanceScheduler(db, lambda m, d: 1000, WarningRules(), HOOK)
    t0 = datetime(2024, 1, 8, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, 7 days after install
    evals = {e.account_id: e for e in sched.tick(t0)}
    assert set(evals) == set(accounts.values())
    e = evals[bj]
    # 7 days x 1 m³ x 5.00 = 35 yuan charged: 25 left, 5 days at 5 yuan/day.
    assert e.balance == D("25.00") and e.daily_l == D("1000.000") and e.days_left == 5
    assert set(_live(db, bj)) == {"days_left"}
    assert sched.tick(t0 + timedelta(hours=5)) == []  # not due yet
    later = sched.tick(t0 + timedelta(hours=6))
    assert {x.account_id for x in later} == set(accounts.values())
    e = sched.tick(t0 + timedelta(days=1, hours=6))
    e = {x.account_id: x for x in e}[bj]
    assert e.balance == D("20.00")
    assert set(_live(db, bj)) == {"days_left"}  # 20.00 is not below 20
    e = {x.account_id: x for x in sched.tick(t0 + timedelta(days=2, hours=6))}[bj]
    assert e.balance == D("15.00") and set(_live(db, bj)) == {"days_left", "balance_low"}
    # Topping up resolves both warnings at the next evaluation; de-duplicated meanwhile.
    with db.session() as s:
        notify(s, "alipay", "p2", "beijing", BEIJING, "100.00")
    sched.tick(t0 + timedelta(days=2, hours=12))
    assert _live(db, bj) == {}
    with db.session() as s:
        kinds = sorted(a.kind for a in list_alerts(s, [bj]))
        assert kinds == ["balance_low", "days_left"]  # one alert each, however many evaluations
        # Each alert: opened + resolved, to one webhook and MQTT = 4 outbox rows.
        assert (
            s.scalar(
                select(func.count()).select_from(OutboxMessage).join(Alert).where(Alert.account_id == bj)
            )
            == 8
        )


def _leak_event(kind, meter, rate_lph, started, detected):
    return LeakEvent(
        kind,
        LeakAlert(
            meter=meter,
            kind="continuous",
            rule="continuous_flow",
            updated_at=detected,
            started_at=started,
            detected_at=detected,
            rate_lph=rate_lph,
            confidence=0.9,
            evidence={"min_hour_l": rate_lph},
        ),
    )


def test_leak_alert_raises_cost_warning_at_once_and_dedupes(db, accounts):
    gz = accounts["guangzhou"]
    with db.session() as s:
        notify(s, "alipay", "p1", "guangzhou", GUANGZHOU, "100.00")
    sched = BalanceScheduler(db, lambda m, d: 500, WarningRules(), HOOK)
    t0 = datetime(2024, 1, 15, 0, 0, tzinfo=UTC)
    sched.tick(t0)
    sink = LeakAlertSink(db, HOOK)
    started = int((t0 + timedelta(hours=1)).timestamp())
    r = sink.handle(_leak_event("open", "gz-1", 20.0, started, started + 7200), now=t0 + timedelta(hours=3))
    assert r.created
    live = _live(db, gz)
    assert set(live) == {"leak", "leak_cost"}
    d = live["leak_cost"].details
    # 20 L/h = 480 L/day; at 7 m³ this month the position is in tier 1: 0.48 m³ x 2.55 = 1.22 yuan/day.
    assert d["leak_l_per_day"] == "480.000" and d["leak_cost_yuan_per_day"] == "1.22"
    assert d["days_left_with_leak"] < d["days_left_without_leak"]
    assert "with the leak" in live["leak_cost"].title
    # Updates make no new alerts; one is delivered only when the rate moved more than 20 % from the
    # rate last delivered (20 -> 25 L/h: once, to the webhook and MQTT), not for each small step.
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(OutboxMessage))
    for k in range(5):
        r = sink.handle(
            _leak_event("update", "gz-1", 21.0 + k, started, started + 7200),
            now=t0 + timedelta(hours=3, minutes=k + 1),
        )
        assert not r.created and r.delivered == (k == 4)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == rows + 2
        updated = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(2)).all()
        assert {m.payload["event"] for m in updated} == {"alert.updated"}
        assert {m.payload["alert"]["leak"]["rate_lph"] for m in updated} == {25.0}
        assert len(list_alerts(s, [gz], "live")) == 2
        acknowledge(s, live["leak"].id, "alice")
    assert _live(db, gz)["leak"].state == "acknowledged"
    assert _live(db, gz)["leak"].details["rate_lph"] == 25.0
    sink.handle(_leak_event("resolve", "gz-1", 25.0, started, started + 7200), now=t0 + timedelta(hours=10))
    assert _live(db, gz) == {}
    with db.session() as s:
        states = sorted((a.kind, a.state) for a in list_alerts(s, [gz]))
    assert states == [("leak", "resolved"), ("leak_cost", "resolved")]


def test_leak_on_a_meter_no_account_holds_is_an_alert_for_the_utility(db, accounts):
    sink = LeakAlertSink(db, HOOK, utility="guangzhou")
    r = sink.handle(_leak_event("open", "nobody", 5.0, 0, 3600))
    assert r.alert_id is not None and r.created and sink.unknown_meters == 1
    with db.session() as s:
        alert = s.get(Alert, r.alert_id)
        assert alert.account_id is None and alert.meter_id == "nobody" and alert.kind == "leak"
        assert alert.details["utility"] is True and alert.details["tariff"] == "guangzhou"
        topics = {
            m.target for m in s.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id))
        }
        assert "wm/v1/alerts/utility" in topics


def test_custom_threshold_per_account(db, accounts):
    from billing.db import Account

    sh = accounts["shanghai"]
    with db.session() as s:
        s.get(Account, sh).low_balance_yuan = D("5")
        s.get(Account, sh).balance = D("10")
        e = evaluate(s, sh, datetime(2024, 2, 1, tzinfo=UTC), WarningRules(), HOOK)
    assert e.opened == [] and e.days_left is None  # no consumption yet: no projection
