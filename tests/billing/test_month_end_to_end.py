"""A month of simulated households with injected leaks: detector → alerts → warnings → ledger → webhooks."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from billing.accounts import create_account
from billing.alerts import Delivery, list_alerts
from billing.balance import WarningRules
from billing.db import Account, LedgerEntry, OutboxMessage
from billing.leak_alerts import LeakAlertSink
from billing.outbox import Dispatcher
from billing.payments import notify
from billing.scheduler import BalanceScheduler
from core.tariffs import tariff_for
from hardware_sim.household import Household, Leak
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from tests.billing.webhook_server import WebhookReceiver
from tests.conftest import wait_for

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 3, 1, tzinfo=TZ)  # household virtual time 0 = local midnight
DAYS = 31
DAY_S = 86400
LEAK_START_S = 9 * DAY_S + 13 * 3600
LEAK_END_S = 20 * DAY_S
LEAK_LPH = 12.0


def test_month_with_leak_end_to_end(db):
    hook = WebhookReceiver()
    try:
        _run_month(db, hook)
    finally:
        hook.close()


def _run_month(db, hook):
    households = {
        "gz-leaky": (
            "guangzhou",
            "440100000001",
            Household(seed=11, occupants=3, leaks=[Leak("drip", LEAK_START_S, LEAK_END_S, LEAK_LPH)]),
        ),
        "gz-plain": ("guangzhou", "440100000002", Household(seed=12, occupants=2)),
    }
    with db.session() as s:
        ids = {
            m: create_account(s, u, n, meters=[{"meter_id": m, "installed_at": START.astimezone(UTC)}]).id
            for m, (u, n, _) in households.items()
        }
        for m, (u, n, _) in households.items():
            for _ in range(3):  # the app retries its notification: credited once
                notify(s, "wechat", f"init-{m}", u, n, "60.00", now=START.astimezone(UTC))

    delivery = Delivery(webhooks=(hook.url,), mqtt_topic_prefix=None)
    rules = WarningRules()
    daily_l: dict[tuple[str, date], float] = defaultdict(float)
    sched = BalanceScheduler(db, lambda meter, day: daily_l[(meter, day)], rules, delivery)
    sink = LeakAlertSink(db, delivery, rules)
    detector = LeakDetector(LeakConfig(tz="Asia/Shanghai"))
    dispatcher = Dispatcher(db, base_backoff_s=0.0, max_backoff_s=0.0)
    t0 = int(START.timestamp())
    leak_events = []
    evaluations_at: list[datetime] = []
    hook.down = True  # the receiver is down until well after the leak alert: nothing may be lost
    for minute in range(DAYS * 1440):
        ts = t0 + minute * 60
        now = datetime.fromtimestamp(ts + 60, UTC)
        if minute == 12 * 1440:
            hook.down = False
        for meter, (_, _, hh) in households.items():
            litres = hh.litres(minute * 60, minute * 60 + 60)
            daily_l[(meter, datetime.fromtimestamp(ts, TZ).date())] += litres
            for event in detector.update(meter, ts, litres):
                result = sink.handle(event, now=now)
                leak_events.append((meter, event.kind, event.alert.kind, ts, result))
        if minute % 360 == 359:  # the scheduler's clock: every 6 h of virtual time
            if sched.tick(now):
                evaluations_at.append(now)
            dispatcher.run_once()  # the outbox worker, on the same virtual clock's rhythm
    sched.tick(datetime.fromtimestamp(t0 + DAYS * DAY_S + 3600, UTC))  # charge the last day

    # 1. The leak was detected within 26 h, as one alert, and raised the balance warning at once.
    leaky = [
        e for e in leak_events if e[0] == "gz-leaky" and e[1] == "open" and e[3] >= LEAK_START_S + t0 - 3600
    ]
    assert leaky, f"leak not detected: {leak_events}"
    first_open = leaky[0]
    assert first_open[3] - (t0 + LEAK_START_S) <= 26 * 3600
    with db.session() as s:
        alerts = list_alerts(s, [ids["gz-leaky"]], limit=1000)
        leak_alert = next(a for a in alerts if a.id == first_open[4].alert_id)
        assert leak_alert.kind == "leak"
        cost = [a for a in alerts if a.kind == "leak_cost" and a.details["leak_alert_id"] == leak_alert.id]
        # The warning comes in the same transaction (processing time); the leak alert is opened at the
        # data time of the minutes that showed it, the end of the hour closed by this minute.
        assert len(cost) == 1 and timedelta(0) <= cost[0].opened_at - leak_alert.opened_at <= timedelta(
            minutes=1
        )
        d = cost[0].details
        assert Decimal(d["leak_cost_yuan_per_day"]) > 0
        assert (
            d["days_left_with_leak"] is None
            or d["days_left_without_leak"] is None
            or d["days_left_with_leak"] <= d["days_left_without_leak"]
        )
        # One alert per leak: as many leak alerts as the detector opened, not one per minute.
        opens = [e for e in leak_events if e[1] == "open"]
        all_leak_alerts = [a for a in list_alerts(s, limit=10000) if a.kind == "leak"]
        assert len(all_leak_alerts) == len(opens)
        assert len(leak_events) > len(opens)  # updates came, and made no new alerts

    # 2. Ledger: every day charged once per meter, the month's charges equal the tariff's cost.
    g = tariff_for("guangzhou")
    with db.session() as s:
        for meter, account_id in ids.items():
            charges = list(
                s.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge"
                    )
                )
            )
            assert sorted(e.day for e in charges) == [START.date() + timedelta(days=i) for i in range(DAYS)]
            month_l = sum((e.volume_l for e in charges), Decimal(0))
            assert abs(month_l - Decimal(str(sum(v for (m, _), v in daily_l.items() if m == meter)))) < 1
            assert -sum(e.amount for e in charges) == g.cost_of_litres(month_l)
            account = s.get(Account, account_id)
            total = s.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account_id))
            assert account.balance == total == Decimal("60.00") - g.cost_of_litres(month_l)
        leaky_l = sum(v for (m, _), v in daily_l.items() if m == "gz-leaky")
        plain_l = sum(v for (m, _), v in daily_l.items() if m == "gz-plain")
        assert leaky_l > LEAK_LPH * (LEAK_END_S - LEAK_START_S) / 3600  # the leak is in the bill

    # 3. Balance warnings: evaluated at least every 6 h; the low-balance warning came for the leaky account.
    assert len(evaluations_at) >= DAYS * 4 - 1
    gaps = [(b - a).total_seconds() for a, b in zip(evaluations_at, evaluations_at[1:], strict=False)]
    assert max(gaps) <= 6 * 3600
    with db.session() as s:
        low = [a for a in list_alerts(s, [ids["gz-leaky"]], limit=1000) if a.kind == "balance_low"]
        final = s.get(Account, ids["gz-leaky"]).balance
    if final < Decimal(20):
        assert len(low) == 1 and low[0].state != "resolved"

    # 4. Webhooks: every outbox row delivered exactly once, including the week the receiver was down.
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(OutboxMessage))
    wait_for(lambda: dispatcher.run_once() and dispatcher.pending() == 0, timeout_s=60, what="outbox drained")
    dispatcher.stop()
    got_ids = [i for i, _ in hook.received]
    assert hook.refused > 0 and len(got_ids) == len(set(got_ids)) == rows
    opened = {b["alert"]["id"] for _, b in hook.received if b["event"] == "alert.opened"}
    assert leak_alert.id in opened and cost[0].id in opened
    print(
        f"leaky {leaky_l:.0f} L, plain {plain_l:.0f} L; leak alerts {len(all_leak_alerts)}; "
        f"final balance {final}; webhook deliveries {rows}, refused while down {hook.refused}"
    )
