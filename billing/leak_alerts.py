"""Leak detector events → stored alerts with their figures → delivery → an immediate balance re-evaluation.

One detector alert is one stored alert, keyed `leak:<detector alert id>`: that id is made of data time,
so minutes fed again after a restart find the alert already stored instead of opening another. Every
time stored is data time (when the minutes showed it), never when it was processed. The figures
(litres and money lost so far, and per day if not fixed) are priced with the account's tariff at its
tier position (core.tariffs); a meter no account holds still gets its alert, for the utility alone,
priced with the utility's tariff when one is configured. Unusual-use notices are stored as
`unusual_use` alerts; a resident's "that was me" goes to `leak_feedback` for the monitor to learn.

Codes against the leaks package's interface (read-only; billing never imports leaks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.access import account_for_meter
from billing.alerts import Delivery, latest_alert, raise_alert, resolve
from billing.balance import Evaluation, WarningRules, evaluate, period_used
from billing.db import Alert, Database, LeakFeedback
from billing.errors import Conflict
from billing.ledger import account_tariff
from core.money import yuan
from core.tariffs import Tariff, tariff_for
from core.units import L_PER_M3, to_litres

log = logging.getLogger(__name__)

# An update is delivered when the rate moved this much from the last one delivered, or the kind changed.
DELIVER_RATE_CHANGE = 0.2
KIND_NAMES = {
    "drip": "Drip",
    "continuous": "Continuous leak",
    "running_toilet": "Running toilet",
    "burst": "Burst",
}
VERDICTS = ("mine", "not_mine")
CONTINUOUS_MAX_LPH = 300.0  # a reported flow above this is a burst (leaks.config.continuous_max_lph)


class LeakAlertLike(Protocol):
    """What the sink reads of a leak alert (leaks.model.LeakAlert)."""

    @property
    def meter(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def started_at(self) -> int: ...
    @property
    def detected_at(self) -> int: ...
    @property
    def updated_at(self) -> int: ...
    @property
    def resolved_at(self) -> int | None: ...
    @property
    def stopped_at(self) -> int | None: ...
    @property
    def rate_lph(self) -> float: ...
    @property
    def volume_l(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def evidence(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def alert_id(self) -> str: ...


class LeakEventLike(Protocol):
    """What the sink reads of a leak event (leaks.model.LeakEvent)."""

    @property
    def kind(self) -> str: ...
    @property
    def alert(self) -> LeakAlertLike: ...


class NoticeLike(Protocol):
    """What the sink reads of an unusual-use notice (leaks.model.UsageNotice)."""

    @property
    def meter(self) -> str: ...
    @property
    def started_at(self) -> int: ...
    @property
    def detected_at(self) -> int: ...
    @property
    def rate_lph(self) -> float: ...
    @property
    def volume_l(self) -> float: ...
    @property
    def minutes(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def stopped_at(self) -> int | None: ...
    @property
    def notice_id(self) -> str: ...


def _dt(t: int | float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(float(t), UTC)


def _iso(t: int | float | None) -> str | None:
    d = _dt(t)
    return None if d is None else d.isoformat()


@dataclass
class SinkResult:
    alert_id: int | None
    created: bool
    evaluation: Evaluation | None
    delivered: bool = False


@dataclass(frozen=True)
class Figures:
    """What a leak costs: so far and per day if not fixed (money None without a tariff)."""

    volume_l: Decimal
    per_day_l: Decimal
    cost_yuan: Decimal | None
    per_day_yuan: Decimal | None

    @classmethod
    def of(
        cls, volume_l: float, rate_lph: float, running: bool, tariff: Tariff | None, used_before_l: Decimal
    ) -> Figures:
        """Litres lost and per day, priced at the tier position the period has reached."""
        vol = to_litres(max(0.0, volume_l))
        per_day = to_litres(max(0.0, rate_lph) * 24) if running else Decimal("0.000")
        if tariff is None:
            return cls(vol, per_day, None, None)
        cost = _price(tariff, used_before_l, vol)
        return cls(vol, per_day, cost, _price(tariff, used_before_l + vol, per_day))


def _price(tariff: Tariff, before_l: Decimal, used_l: Decimal) -> Decimal:
    """Cost of used_l after before_l in the period, unrounded until the end (small leaks are not 0)."""
    return yuan(tariff.cost_exact((before_l + used_l) / L_PER_M3) - tariff.cost_exact(before_l / L_PER_M3))


class LeakAlertSink:
    """Stores leak events and notices as alerts and re-evaluates the account's balance at once."""

    def __init__(
        self, db: Database, delivery: Delivery, rules: WarningRules | None = None, utility: str | None = None
    ):
        self.db = db
        self.delivery = delivery
        self.rules = rules or WarningRules()
        self.utility = utility  # the tariff of meters no account holds (None: their money is not priced)
        self.unknown_meters = 0

    def _tariff(self, s: Session, meter: str, day_s: int) -> tuple[Any, Tariff | None, Decimal]:
        account = account_for_meter(s, meter)
        if account is not None:
            tariff = account_tariff(account)
            day = datetime.fromtimestamp(day_s, tariff.zone).date()
            return account, tariff, period_used(s, account.id, tariff, day)
        if self.utility is None:
            return None, None, Decimal(0)
        return None, tariff_for(self.utility), Decimal(0)

    def handle(self, event: LeakEventLike, now: datetime | None = None) -> SinkResult:
        """Apply one event in one transaction (alert change, warnings and outbox rows together)."""
        if event.kind not in ("open", "update", "progress", "resolve"):
            raise ValueError(f"unknown leak event kind {event.kind!r}")
        a = event.alert
        key = f"leak:{a.alert_id}"
        as_of = a.resolved_at if event.kind == "resolve" and a.resolved_at is not None else a.updated_at
        when = _dt(as_of) or now or datetime.now(UTC)
        with self.db.session() as s:
            account, tariff, used = self._tariff(s, a.meter, int(as_of))
            if account is None:
                self.unknown_meters += 1  # still stored: the utility sees it
            running = event.kind != "resolve"
            fig = Figures.of(a.volume_l, a.rate_lph, running, tariff, used)
            details = _leak_details(a, fig, tariff, account is None)
            title = _leak_title(a, fig, tariff)
            existing = latest_alert(s, key)
            created = delivered = False
            if existing is not None and existing.state == "resolved":
                return SinkResult(existing.id, False, None)  # replayed after a restart: already done
            if event.kind == "resolve":
                if existing is None:  # opened and resolved within one batch of minutes: both are news
                    raise_alert(
                        s,
                        self.delivery,
                        account_id=account.id if account else None,
                        kind="leak",
                        dedupe_key=key,
                        title=title,
                        details=details,
                        meter_id=a.meter,
                        now=when,
                        opened_at=_dt(a.detected_at),
                    )
                alert = resolve(
                    s,
                    self.delivery,
                    key,
                    "leak stopped",
                    now=when,
                    details={
                        **details,
                        "feedback": (existing.details or {}).get("feedback") if existing else None,
                    },
                    title=title,
                )
                alert_id, delivered = (alert.id if alert else None), alert is not None
            else:
                prev = (existing.details or {}) if existing is not None else {}
                deliver = existing is not None and event.kind == "update" and _material_change(prev, details)
                details["feedback"] = prev.get("feedback")
                details["delivered"] = (
                    {"leak_kind": details["leak_kind"], "rate_lph": details["rate_lph"]}
                    if existing is None or deliver
                    else prev.get("delivered")
                )
                change = raise_alert(
                    s,
                    self.delivery,
                    account_id=account.id if account else None,
                    kind="leak",
                    dedupe_key=key,
                    title=title,
                    details=details,
                    meter_id=a.meter,
                    now=when,
                    opened_at=_dt(a.detected_at),
                    deliver_update=deliver,
                )
                created, alert_id, delivered = change.created, change.alert.id, change.created or deliver
            s.flush()
            # Warnings are about the balance now (processing time), whatever the leak's data time.
            now = now or datetime.now(UTC)
            evaluation = evaluate(s, account.id, now, self.rules, self.delivery) if account else None
            return SinkResult(alert_id, created, evaluation, delivered)

    def handle_notice(self, notice: NoticeLike, now: datetime | None = None) -> SinkResult:
        """Store an unusual-use notice (opened) or close it (the draw ended, or it became a leak alert)."""
        key = f"unusual:{notice.notice_id}"
        when = _dt(notice.stopped_at if notice.status != "open" and notice.stopped_at else notice.detected_at)
        assert when is not None
        with self.db.session() as s:
            account, tariff, used = self._tariff(s, notice.meter, notice.detected_at)
            running = notice.status == "open"
            fig = Figures.of(notice.volume_l, notice.rate_lph, running, tariff, used)
            details = {
                "leak_kind": "unusual_use",
                "rule": "unprecedented_draw",
                "rate_lph": round(notice.rate_lph, 3),
                **_money(fig),
                "started_at": _iso(notice.started_at),
                "detected_at": _iso(notice.detected_at),
                "as_of": when.isoformat(),
                "stopped_at": _iso(notice.stopped_at),
                "status": notice.status,
                "confidence": None,
                "utility": account is None,
                "minutes": notice.minutes,
            }
            title = (
                f"Unusual use on meter {notice.meter}: {notice.rate_lph / 60:.1f} L/min for "
                f"{notice.minutes} min ({fig.volume_l} L) since {_local(notice.started_at, tariff)}"
                " - was this you?"
            )
            existing = latest_alert(s, key)
            if notice.status == "open":
                if existing is not None:
                    return SinkResult(existing.id, False, None)
                change = raise_alert(
                    s,
                    self.delivery,
                    account_id=account.id if account else None,
                    kind="unusual_use",
                    dedupe_key=key,
                    title=title,
                    details=details,
                    meter_id=notice.meter,
                    now=when,
                    opened_at=when,
                )
                return SinkResult(change.alert.id, True, None, True)
            reason = "the draw ended" if notice.status == "ended" else "it became a leak alert"
            if existing is not None:
                details["feedback"] = (existing.details or {}).get("feedback")
            gone = resolve(s, self.delivery, key, reason, now=when, details=details)
            return SinkResult(gone.id if gone else None, False, None, gone is not None)

    # ---- residents' word --------------------------------------------------------------------------------

    def pending_feedback(self) -> list[LeakFeedback]:
        """ "That was me" answers the monitor has not yet taught the detector, oldest first."""
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(LeakFeedback)
                    .where(LeakFeedback.applied_at.is_(None), LeakFeedback.verdict == "mine")
                    .order_by(LeakFeedback.id)
                )
            )

    def mark_applied(self, feedback_id: int, now: datetime | None = None) -> None:
        """The detector has learned it."""
        with self.db.session() as s:
            row = s.get(LeakFeedback, feedback_id)
            if row is not None:
                row.applied_at = now or datetime.now(UTC)


def record_feedback(
    s: Session, delivery: Delivery, alert: Alert, verdict: str, by: str, now: datetime
) -> LeakFeedback:
    """A resident's word on a leak alert or unusual-use notice.

    "mine": the alert is resolved and the draw (or flow) queued for the monitor to learn. "not_mine" on
    a notice: a leak alert for it is opened at once. A second answer on the same alert is a Conflict.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if alert.kind not in ("leak", "unusual_use"):
        raise Conflict(f"alert {alert.id} is not a leak alert or an unusual-use notice")
    d = dict(alert.details or {})
    if d.get("feedback"):
        raise Conflict(f"alert {alert.id} already has an answer: {d['feedback']['verdict']}")
    started = datetime.fromisoformat(d["started_at"]) if d.get("started_at") else alert.opened_at
    stopped = datetime.fromisoformat(d["stopped_at"]) if d.get("stopped_at") else None
    row = LeakFeedback(
        alert_id=alert.id,
        meter_id=alert.meter_id or "",
        verdict=verdict,
        by=by,
        started_at=started,
        stopped_at=stopped,
        rate_lph=to_litres(float(d.get("rate_lph") or 0)),
        created_at=now,
        applied_at=None if verdict == "mine" else now,
    )
    s.add(row)
    d["feedback"] = {"verdict": verdict, "by": by, "at": now.isoformat()}
    alert.details = d
    if verdict == "mine" and alert.state != "resolved":
        resolve(s, delivery, alert.dedupe_key, "the resident says the water was theirs", now=now)
    elif verdict == "not_mine" and alert.kind == "unusual_use" and alert.state != "resolved":
        rate = float(d.get("rate_lph") or 0)
        kind = "burst" if rate >= CONTINUOUS_MAX_LPH else "continuous"
        leak = {**d, "leak_kind": kind, "rule": "resident_report", "feedback": None}
        raise_alert(
            s,
            delivery,
            account_id=alert.account_id,
            kind="leak",
            dedupe_key=f"leak:report:{alert.id}",
            title=f"Reported leak on meter {alert.meter_id}: {alert.title.split(': ', 1)[-1]}",
            details=leak,
            meter_id=alert.meter_id,
            now=now,
            opened_at=now,
        )
    s.flush()
    return row


def _money(fig: Figures) -> dict:
    return {
        "volume_l": str(fig.volume_l),
        "cost_yuan": None if fig.cost_yuan is None else str(fig.cost_yuan),
        "per_day_l": str(fig.per_day_l),
        "per_day_yuan": None if fig.per_day_yuan is None else str(fig.per_day_yuan),
    }


def _leak_details(a: LeakAlertLike, fig: Figures, tariff: Tariff | None, utility_only: bool) -> dict:
    return {
        "leak_kind": a.kind,
        "rule": a.rule,
        "rate_lph": round(float(a.rate_lph), 3),
        **_money(fig),
        "started_at": _iso(a.started_at),
        "detected_at": _iso(a.detected_at),
        "as_of": _iso(a.resolved_at if a.status == "resolved" and a.resolved_at else a.updated_at),
        "stopped_at": _iso(a.stopped_at),
        "status": a.status,
        "confidence": round(float(a.confidence), 3),
        "utility": utility_only,
        "tariff": tariff.code if tariff is not None else None,
        "evidence": a.evidence,
    }


def _local(t: int, tariff: Tariff | None) -> str:
    tz = tariff.zone if tariff is not None else UTC
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")


def _leak_title(a: LeakAlertLike, fig: Figures, tariff: Tariff | None) -> str:
    name = KIND_NAMES.get(a.kind, a.kind)
    money = f" ({fig.cost_yuan} yuan)" if fig.cost_yuan is not None else ""
    if a.status == "resolved":
        return (
            f"{name} on meter {a.meter} stopped at {_local(a.stopped_at or a.updated_at, tariff)}: "
            f"{fig.volume_l} L{money} lost since {_local(a.started_at, tariff)}"
        )
    per_day = f" ({fig.per_day_yuan} yuan)" if fig.per_day_yuan is not None else ""
    return (
        f"{name} on meter {a.meter} since {_local(a.started_at, tariff)}: {a.rate_lph:.1f} L/h, "
        f"{fig.volume_l} L{money} lost so far, {fig.per_day_l} L{per_day} a day if not fixed"
    )


def _material_change(before: dict, after: dict) -> bool:
    """Whether receivers must hear about it: the kind changed, or the rate moved by DELIVER_RATE_CHANGE."""
    sent = before.get("delivered") or before
    if sent.get("leak_kind") != after.get("leak_kind"):
        return True
    old, new = float(sent.get("rate_lph") or 0), float(after.get("rate_lph") or 0)
    return abs(new - old) > DELIVER_RATE_CHANGE * max(old, 1e-9)
