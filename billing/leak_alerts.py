"""Leak detector events → stored leak alerts (one per leak) → an immediate balance re-evaluation.

Codes against the leaks package's interface: `LeakEvent(kind "open"|"update"|"resolve", alert)`,
with `alert` carrying meter, kind, started_at, detected_at, rate_lph, confidence, evidence.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from billing.access import account_for_meter
from billing.alerts import Delivery, raise_alert, resolve
from billing.balance import Evaluation, WarningRules, evaluate
from billing.db import Database

log = logging.getLogger(__name__)


class LeakAlertLike(Protocol):
    """What the sink reads of a leak alert (leaks.model.LeakAlert; read-only)."""

    @property
    def meter(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def started_at(self) -> Any: ...
    @property
    def detected_at(self) -> Any: ...
    @property
    def rate_lph(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def evidence(self) -> Any: ...


class LeakEventLike(Protocol):
    """What the sink reads of a leak event (leaks.model.LeakEvent; read-only)."""

    @property
    def kind(self) -> str: ...
    @property
    def alert(self) -> LeakAlertLike: ...


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    if isinstance(t, datetime):
        return t.astimezone(UTC).isoformat()
    return datetime.fromtimestamp(float(t), UTC).isoformat()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class SinkResult:
    alert_id: int | None
    created: bool
    evaluation: Evaluation | None


class LeakAlertSink:
    """Stores leak events as alerts and re-evaluates the account's balance at once."""

    def __init__(self, db: Database, delivery: Delivery, rules: WarningRules | None = None):
        self.db = db
        self.delivery = delivery
        self.rules = rules or WarningRules()
        self.unknown_meters = 0

    def handle(self, event: LeakEventLike, now: datetime | None = None) -> SinkResult:
        """Apply one event in one transaction (alert change, warnings and outbox rows together)."""
        if event.kind not in ("open", "update", "resolve"):
            raise ValueError(f"unknown leak event kind {event.kind!r}")
        a = event.alert
        now = now or datetime.now(UTC)
        with self.db.session() as s:
            account = account_for_meter(s, a.meter)
            if account is None:
                self.unknown_meters += 1  # a meter not (yet) assigned to an account: nobody to warn
                log.warning("leak event for meter %s with no account", a.meter)
                return SinkResult(None, False, None)
            key = f"leak:{a.meter}:{a.kind}"
            details = {
                "leak_kind": a.kind,
                "rate_lph": round(float(a.rate_lph), 3),
                "confidence": round(float(a.confidence), 3),
                "started_at": _iso(a.started_at),
                "detected_at": _iso(a.detected_at),
                "evidence": _jsonable(a.evidence),
            }
            created = False
            alert_id = None
            if event.kind == "resolve":
                gone = resolve(s, self.delivery, key, "leak stopped", now=now)
                alert_id = gone.id if gone else None
            else:
                title = f"Possible {a.kind} leak on meter {a.meter}: about {float(a.rate_lph):.1f} L/h"
                change = raise_alert(
                    s,
                    self.delivery,
                    account_id=account.id,
                    kind="leak",
                    dedupe_key=key,
                    title=title,
                    details=details,
                    meter_id=a.meter,
                    now=now,
                )
                created, alert_id = change.created, change.alert.id
            s.flush()
            evaluation = evaluate(s, account.id, now, self.rules, self.delivery)
            return SinkResult(alert_id, created, evaluation)
