"""The utility's work on an alert: notes, assignment to a crew, resolution; and what its resident sees.

Steps are kept as `AlertAction` rows (who, when, what), beside the alert's own lifecycle (billing.alerts:
open → acknowledged → resolved). A note marked public is shown to the account's residents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.alerts import Delivery, resolve
from billing.db import Alert, AlertAction, utcnow
from billing.errors import Conflict, Invalid, NotFound


def _alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def _text(text: str, limit: int = 2000) -> str:
    text = text.strip()
    if len(text) > limit:
        raise Invalid(f"at most {limit} characters")
    return text


def add_note(
    session: Session, alert_id: int, by: str, text: str, public: bool, now: datetime | None = None
) -> AlertAction:
    """A note on the alert (public: the resident sees it)."""
    _alert(session, alert_id)
    body = _text(text)
    if not body:
        raise Invalid("a note needs text")
    row = AlertAction(alert_id=alert_id, action="note", by=by, text=body, public=public, at=now or utcnow())
    session.add(row)
    session.flush()
    return row


def assign(
    session: Session, alert_id: int, by: str, assignee: str, now: datetime | None = None
) -> AlertAction:
    """Assign the alert to a person or crew; a resolved alert cannot be assigned."""
    alert = _alert(session, alert_id)
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    who = _text(assignee, 100)
    if not who:
        raise Invalid("assign to whom?")
    row = AlertAction(alert_id=alert_id, action="assign", by=by, assignee=who, at=now or utcnow())
    session.add(row)
    session.flush()
    return row


def close(
    session: Session, alert_id: int, by: str, note: str, delivery: Delivery, now: datetime | None = None
) -> Alert:
    """Resolve the alert by hand with a reason (delivered like any resolution)."""
    alert = _alert(session, alert_id)
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    reason = _text(note) or "resolved by the utility"
    now = now or utcnow()
    resolve(session, delivery, alert.dedupe_key, f"{by}: {reason}", now=now)
    session.add(AlertAction(alert_id=alert_id, action="resolve", by=by, text=reason, public=True, at=now))
    session.flush()
    return alert


def history(session: Session, alert_id: int) -> list[AlertAction]:
    """The alert's steps, oldest first."""
    _alert(session, alert_id)
    return list(
        session.scalars(
            select(AlertAction)
            .where(AlertAction.alert_id == alert_id)
            .order_by(AlertAction.at, AlertAction.id)
        )
    )


@dataclass(frozen=True, slots=True)
class Progress:
    """An alert's handling as its resident sees it: assigned or not, and the public notes."""

    assigned: bool
    notes: list[tuple[datetime, str]]


def progress(session: Session, alert_ids: list[int]) -> dict[int, Progress]:
    """What the residents of these alerts see of the utility's work on them."""
    out: dict[int, Progress] = {i: Progress(False, []) for i in alert_ids}
    if not alert_ids:
        return out
    for row in session.scalars(
        select(AlertAction)
        .where(AlertAction.alert_id.in_(alert_ids))
        .order_by(AlertAction.at, AlertAction.id)
    ):
        p = out[row.alert_id]
        notes = p.notes + [(row.at, row.text)] if row.public and row.text else p.notes
        out[row.alert_id] = Progress(p.assigned or row.action == "assign", notes)
    return out


def current_assignee(session: Session, alert_id: int) -> str | None:
    """Who the alert is assigned to now (the latest assignment)."""
    rows = [r for r in history(session, alert_id) if r.action == "assign"]
    return rows[-1].assignee if rows else None
