"""Alert lifecycle (open → acknowledged → resolved), de-duplication, and the transactional outbox.

One condition is one alert: at most one unresolved alert per dedupe key (a partial unique index
guards it). Opening and resolving an alert write outbox messages in the same transaction, one per
webhook and one for MQTT, so a delivery is never lost and never made for a rolled-back change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.db import Account, Alert, OutboxMessage, utcnow
from billing.errors import Conflict, NotFound

STATES = ("open", "acknowledged", "resolved")


UTILITY_TOPIC = "utility"  # MQTT topic suffix of alerts for the utility alone (no account holds the meter)
LEAK_KINDS = ("leak", "unusual_use")  # alerts that carry leak figures (alert_json's "leak")


@dataclass(frozen=True)
class Delivery:
    """Where alert events go."""

    webhooks: tuple[str, ...] = ()
    mqtt_topic_prefix: str | None = "wm/v1/alerts"

    @classmethod
    def from_settings(cls, settings) -> Delivery:
        return cls(tuple(settings.webhook_urls), settings.mqtt_topic_prefix if settings.mqtt_alerts else None)


@dataclass
class AlertChange:
    alert: Alert
    created: bool = False
    resolved: bool = False
    changes: dict = field(default_factory=dict)


def leak_json(alert: Alert) -> dict | None:
    """The structured figures of a leak alert or unusual-use notice (None for other alerts)."""
    if alert.kind not in LEAK_KINDS:
        return None
    d = alert.details or {}
    return {k: d.get(k) for k in LEAK_FIELDS}


# The leak figures every leak alert carries in its details (docs/leaks.md, "Alert fields").
LEAK_FIELDS = (
    "leak_kind", "rule", "rate_lph", "volume_l", "cost_yuan", "per_day_l", "per_day_yuan",
    "started_at", "detected_at", "as_of", "stopped_at", "status", "confidence", "utility", "feedback",
)  # fmt: skip


def alert_json(alert: Alert, account: Account | None = None) -> dict:
    """The public form of an alert (API and deliveries)."""
    account = account if account is not None else alert.account
    return {
        "id": alert.id,
        "account_id": alert.account_id,
        "account": account.key if account is not None else None,
        "meter_id": alert.meter_id,
        "kind": alert.kind,
        "state": alert.state,
        "title": alert.title,
        "details": alert.details,
        "leak": leak_json(alert),
        "opened_at": alert.opened_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def _enqueue(session: Session, alert: Alert, event: str, delivery: Delivery, now: datetime) -> None:
    account = session.get(Account, alert.account_id) if alert.account_id is not None else None
    if alert.account_id is not None and account is None:
        raise NotFound(f"no account {alert.account_id}")
    payload = {"event": f"alert.{event}", "alert": alert_json(alert, account)}
    for url in delivery.webhooks:
        session.add(
            OutboxMessage(
                alert_id=alert.id,
                channel="webhook",
                target=url,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
        )
    if delivery.mqtt_topic_prefix:
        suffix = account.key if account is not None else UTILITY_TOPIC
        session.add(
            OutboxMessage(
                alert_id=alert.id,
                channel="mqtt",
                target=f"{delivery.mqtt_topic_prefix}/{suffix}",
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
        )


def live_alert(session: Session, dedupe_key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.dedupe_key == dedupe_key, Alert.state != "resolved"))


def latest_alert(session: Session, dedupe_key: str) -> Alert | None:
    """The newest alert with this key, whatever its state."""
    q = select(Alert).where(Alert.dedupe_key == dedupe_key).order_by(Alert.id.desc()).limit(1)
    return session.scalar(q)


def raise_alert(
    session: Session,
    delivery: Delivery,
    *,
    account_id: int | None,
    kind: str,
    dedupe_key: str,
    title: str,
    details: dict,
    meter_id: str | None = None,
    now: datetime | None = None,
    opened_at: datetime | None = None,
    deliver_update: bool = False,
) -> AlertChange:
    """Open an alert, or update the live one with the same key.

    An update is delivered (`alert.updated`) only when `deliver_update`: the caller decides what is a
    change a receiver must hear about. `opened_at` is the time the condition was seen (data time),
    `now` by default.
    """
    now = now or utcnow()
    alert = live_alert(session, dedupe_key)
    if alert is not None:
        alert.details = details
        alert.title = title
        alert.updated_at = now
        if deliver_update:
            session.flush()
            _enqueue(session, alert, "updated", delivery, now)
        return AlertChange(alert)
    alert = Alert(
        account_id=account_id,
        meter_id=meter_id,
        kind=kind,
        dedupe_key=dedupe_key,
        title=title,
        details=details,
        opened_at=opened_at or now,
        updated_at=now,
        state="open",
    )
    try:
        with session.begin_nested():  # a concurrent opener of the same condition loses here
            session.add(alert)
            session.flush()
    except IntegrityError:
        alert = live_alert(session, dedupe_key)
        if alert is None:
            raise
        return AlertChange(alert)
    _enqueue(session, alert, "opened", delivery, now)
    return AlertChange(alert, created=True)


def resolve(
    session: Session,
    delivery: Delivery,
    dedupe_key: str,
    reason: str = "",
    now: datetime | None = None,
    details: dict | None = None,
    title: str | None = None,
) -> Alert | None:
    """Resolve the live alert with this key, if any (at `now`: data time for a leak that stopped)."""
    alert = live_alert(session, dedupe_key)
    if alert is None:
        return None
    now = now or utcnow()
    alert.state = "resolved"
    alert.resolved_at = now
    alert.updated_at = now
    alert.details = dict(details if details is not None else alert.details)
    if reason:
        alert.details["resolution"] = reason
    if title is not None:
        alert.title = title
    session.flush()
    _enqueue(session, alert, "resolved", delivery, now)
    return alert


def acknowledge(session: Session, alert_id: int, by: str, now: datetime | None = None) -> Alert:
    """Mark an open alert acknowledged (idempotent); Conflict if it is already resolved."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    if alert.state == "open":
        now = now or utcnow()
        alert.state = "acknowledged"
        alert.acknowledged_at = now
        alert.acknowledged_by = by
        alert.updated_at = now
    return alert


def list_alerts(
    session: Session, account_ids: list[int] | None = None, state: str | None = None, limit: int = 200
) -> list[Alert]:
    """Newest first; `account_ids` None means all accounts."""
    q = select(Alert)
    if account_ids is not None:
        q = q.where(Alert.account_id.in_(account_ids))
    if state == "live":
        q = q.where(Alert.state != "resolved")
    elif state is not None:
        q = q.where(Alert.state == state)
    return list(session.scalars(q.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)))
