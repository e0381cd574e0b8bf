"""VEE state in the utility's SQL database (storage.sql; tables `vee_*`): edits, review items, lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import BigInteger, Boolean, Index, String, Text, UniqueConstraint, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from storage.sql import Database
from vee.lifecycle import EventKind, LifecycleEvent
from vee.model import Edit, EditAction, Finding, ReasonCode

T = TypeVar("T")


class Base(DeclarativeBase):
    pass


class EditRow(Base):
    __tablename__ = "vee_edit"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    meter: Mapped[str] = mapped_column(String(64), index=True)
    ts_s: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(128))
    at_s: Mapped[int] = mapped_column(BigInteger)
    value_ml: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    value_before_ml: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class ReviewRow(Base):
    __tablename__ = "vee_review_item"
    __table_args__ = (
        UniqueConstraint("meter", "ts_s", "rule", name="uq_vee_review"),
        Index("ix_vee_review_meter_status", "meter", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    meter: Mapped[str] = mapped_column(String(64))
    ts_s: Mapped[int] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_s: Mapped[int] = mapped_column(BigInteger)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class EventRow(Base):
    __tablename__ = "vee_lifecycle_event"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    point: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    ts_s: Mapped[int] = mapped_column(BigInteger)
    meter: Mapped[str | None] = mapped_column(String(64), nullable=True)
    read_ml: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    new_meter: Mapped[str | None] = mapped_column(String(64), nullable=True)
    new_read_ml: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    account: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A failed rule waiting for (or resolved by) an operator."""

    id: int
    meter: str
    ts_s: int
    rule: str
    detail: str
    excluded: bool
    status: str
    created_s: int
    resolved_by: str | None
    resolved_s: int | None
    resolution: str | None


def _edit(row: EditRow) -> Edit:
    return Edit(
        row.meter,
        row.ts_s,
        EditAction(row.action),
        ReasonCode(row.reason),
        row.operator,
        row.at_s,
        row.value_ml,
        row.value_before_ml,
        row.note,
        row.id,
    )


def _event(row: EventRow) -> LifecycleEvent:
    return LifecycleEvent(
        row.point,
        EventKind(row.kind),
        row.ts_s,
        row.meter,
        row.read_ml,
        row.new_meter,
        row.new_read_ml,
        row.account,
        row.operator,
        row.note,
        row.id,
    )


def _review(row: ReviewRow) -> ReviewItem:
    return ReviewItem(
        row.id,
        row.meter,
        row.ts_s,
        row.rule,
        row.detail,
        row.excluded,
        row.status,
        row.created_s,
        row.resolved_by,
        row.resolved_s,
        row.resolution,
    )


class VeeDb:
    """Repository over the utility's database (tables created on first use).

    Database errors leave as storage.sql.StorageError / StorageConflict, like billing's.
    """

    def __init__(self, db: Database | str):
        self.db = db if isinstance(db, Database) else Database(db)
        self._owned = not isinstance(db, Database)
        self.db.create_tables(Base.metadata)

    def _run(self, fn: Callable[[Session], T]) -> T:
        return self.db.run(fn)

    # -- edits (the audit trail) -------------------------------------------------------
    def add_edit(self, edit: Edit) -> Edit:
        """Store an edit; returns it with its id."""

        def op(s: Session) -> Edit:
            row = EditRow(
                meter=edit.meter,
                ts_s=edit.ts_s,
                action=edit.action.value,
                reason=edit.reason.value,
                operator=edit.operator,
                at_s=edit.at_s,
                value_ml=edit.value_ml,
                value_before_ml=edit.value_before_ml,
                note=edit.note,
            )
            s.add(row)
            s.flush()
            return _edit(row)

        return self._run(op)

    def edits(self, meters: Iterable[str]) -> list[Edit]:
        """Every edit of these meters, oldest first."""
        ms = list(meters)
        return self._run(
            lambda s: [
                _edit(r)
                for r in s.scalars(
                    select(EditRow).where(EditRow.meter.in_(ms)).order_by(EditRow.at_s, EditRow.id)
                )
            ]
        )

    # -- review items --------------------------------------------------------------------
    def sync_findings(self, findings: Iterable[Finding], now_s: int) -> int:
        """Raise a review item per new (meter, ts, rule); returns how many were new."""
        found = {(f.meter, f.ts_s, f.rule.value): f for f in findings}
        if not found:
            return 0
        meters = {m for m, _, _ in found}

        def op(s: Session) -> int:
            have = {
                tuple(row)
                for row in s.execute(
                    select(ReviewRow.meter, ReviewRow.ts_s, ReviewRow.rule).where(ReviewRow.meter.in_(meters))
                ).all()
            }
            new = [f for key, f in found.items() if key not in have]
            s.add_all(
                ReviewRow(
                    meter=f.meter,
                    ts_s=f.ts_s,
                    rule=f.rule.value,
                    detail=f.detail[:2000],
                    excluded=f.excluded,
                    status="open",
                    created_s=now_s,
                )
                for f in new
            )
            return len(new)

        return self._run(op)

    def review_items(self, meters: Iterable[str], status: str | None = None) -> list[ReviewItem]:
        ms = list(meters)

        def op(s: Session) -> list[ReviewItem]:
            q = select(ReviewRow).where(ReviewRow.meter.in_(ms))
            if status:
                q = q.where(ReviewRow.status == status)
            return [_review(r) for r in s.scalars(q.order_by(ReviewRow.ts_s, ReviewRow.rule))]

        return self._run(op)

    def review_queue(self, status: str | None = "open", limit: int = 200) -> list[ReviewItem]:
        """Review items of every meter, oldest reading first (the operators' queue)."""

        def op(s: Session) -> list[ReviewItem]:
            q = select(ReviewRow)
            if status:
                q = q.where(ReviewRow.status == status)
            return [_review(r) for r in s.scalars(q.order_by(ReviewRow.ts_s, ReviewRow.id).limit(limit))]

        return self._run(op)

    def resolve(self, meter: str, ts_s: int, operator: str, now_s: int, resolution: str) -> int:
        """Resolve the open review items of one reading; returns how many."""

        def op(s: Session) -> int:
            rows = s.scalars(
                select(ReviewRow).where(
                    ReviewRow.meter == meter, ReviewRow.ts_s == ts_s, ReviewRow.status == "open"
                )
            ).all()
            for r in rows:
                r.status, r.resolved_by, r.resolved_s, r.resolution = "resolved", operator, now_s, resolution
            return len(rows)

        return self._run(op)

    # -- lifecycle -------------------------------------------------------------------------
    def add_event(self, event: LifecycleEvent) -> LifecycleEvent:
        event.check()

        def op(s: Session) -> LifecycleEvent:
            row = EventRow(
                point=event.point,
                kind=event.kind.value,
                ts_s=event.ts_s,
                meter=event.meter,
                read_ml=event.read_ml,
                new_meter=event.new_meter,
                new_read_ml=event.new_read_ml,
                account=event.account,
                operator=event.operator,
                note=event.note,
            )
            s.add(row)
            s.flush()
            return _event(row)

        return self._run(op)

    def events(self, point: str) -> list[LifecycleEvent]:
        return self._run(
            lambda s: [
                _event(r)
                for r in s.scalars(
                    select(EventRow).where(EventRow.point == point).order_by(EventRow.ts_s, EventRow.id)
                )
            ]
        )

    def close(self) -> None:
        """Dispose of the engine when this repository opened it."""
        if self._owned:
            self.db.dispose()
