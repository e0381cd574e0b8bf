"""A resident's notifications: alerts opened and resolved on their accounts, and payments credited.

Each item is a kind and its parameters (the app words it in the reader's language), made once per
resident and source event (a unique key), dated by the event. `sweep` makes the items of recent events;
the API sweeps before listing, a scheduler may sweep everyone (`sweep_all`) so that the utility's push
gateway (a webhook, where configured: `BillingSettings.notify_webhook`) hears of them without the app open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.db import Alert, LedgerEntry, Notification, OutboxMessage, ResidentAccount, utcnow

WINDOW = timedelta(days=30)  # events older than this make no notification
ALERT_FIELDS = (
    "rate_lph",
    "leak_l_per_day",
    "leak_cost_yuan_per_day",
    "lost_l",
    "lost_yuan",
    "balance_yuan",
    "threshold_yuan",
    "days_left",
    "kind",
)


def _alert_params(a: Alert) -> dict:
    details = a.details or {}
    return {
        "alert_id": a.id,
        "alert_kind": a.kind,
        "meter_id": a.meter_id,
        "title": a.title,
        **{k: details[k] for k in ALERT_FIELDS if k in details},
    }


def _events(
    session: Session, account_ids: list[int], since: datetime
) -> list[tuple[str, str, int | None, dict, datetime]]:
    """(key, kind, account id, params, when) of the accounts' recent events."""
    out: list[tuple[str, str, int | None, dict, datetime]] = []
    if not account_ids:
        return out
    for a in session.scalars(
        select(Alert).where(Alert.account_id.in_(account_ids), Alert.updated_at >= since)
    ):
        if a.opened_at >= since:
            out.append((f"alert:{a.id}:opened", "alert_opened", a.account_id, _alert_params(a), a.opened_at))
        if a.state == "resolved" and a.resolved_at is not None:
            out.append(
                (f"alert:{a.id}:resolved", "alert_resolved", a.account_id, _alert_params(a), a.resolved_at)
            )
    for e in session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.account_id.in_(account_ids),
            LedgerEntry.kind == "topup",
            LedgerEntry.created_at >= since,
        )
    ):
        params = {"amount_yuan": str(e.amount), "balance_after_yuan": str(e.balance_after)}
        out.append((f"topup:{e.id}", "payment_credited", e.account_id, params, e.created_at))
    return out


def sweep(
    session: Session, resident_id: str, now: datetime | None = None, webhook: str | None = None
) -> list[Notification]:
    """Make the resident's missing notifications of the last 30 days; each new one also goes to `webhook`."""
    now = now or utcnow()
    account_ids = list(
        session.scalars(select(ResidentAccount.account_id).where(ResidentAccount.resident_id == resident_id))
    )
    have = set(session.scalars(select(Notification.key).where(Notification.resident_id == resident_id)))
    made = []
    for key, kind, account_id, params, when in _events(session, account_ids, now - WINDOW):
        if key in have:
            continue
        n = Notification(
            resident_id=resident_id, key=key, kind=kind, account_id=account_id, params=params, created_at=when
        )
        session.add(n)
        made.append(n)
        if webhook:
            payload = {
                "event": "notification",
                "resident": resident_id,
                "kind": kind,
                "account_id": account_id,
                "params": params,
                "at": when.isoformat(),
            }
            session.add(
                OutboxMessage(
                    channel="webhook", target=webhook, payload=payload, created_at=now, next_attempt_at=now
                )
            )
    session.flush()
    return made


def sweep_all(session: Session, now: datetime | None = None, webhook: str | None = None) -> int:
    """Sweep every resident with a bound account; how many notifications were made."""
    residents = set(session.scalars(select(ResidentAccount.resident_id).distinct()))
    return sum(len(sweep(session, r, now, webhook)) for r in sorted(residents))


def listing(
    session: Session, resident_id: str, limit: int = 50, unread_only: bool = False
) -> list[Notification]:
    """The resident's notifications, newest first."""
    q = select(Notification).where(Notification.resident_id == resident_id)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list(
        session.scalars(q.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    )


def unread_count(session: Session, resident_id: str) -> int:
    """How many of the resident's notifications are unread."""
    return len(listing(session, resident_id, limit=1000, unread_only=True))


def mark_read(session: Session, resident_id: str, ids: list[int] | None, now: datetime | None = None) -> int:
    """Mark the given notifications (all when None) read; how many changed."""
    q = update(Notification).where(Notification.resident_id == resident_id, Notification.read_at.is_(None))
    if ids is not None:
        q = q.where(Notification.id.in_(ids))
    result = session.execute(q.values(read_at=now or utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
