"""Meters' status messages (protocol topic `status`: birth, last will, config results) kept as history.

The table lives in the utility's SQL database; every function takes a session of it (the caller's
transaction). The ingest records what meters publish (`record`); the console reads the latest status of
many meters at once and one meter's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import JSON, Float, Index, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from storage.sql import Database

STATES = ("online", "offline")


class _Base(DeclarativeBase):
    pass


class StatusRow(_Base):
    """One status message of one meter."""

    __tablename__ = "meter_status"
    __table_args__ = (Index("ix_meter_status_meter_ts", "meter", "ts_s"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meter: Mapped[str] = mapped_column(String(32))
    ts_s: Mapped[int] = mapped_column(Integer)  # when it was received
    state: Mapped[str] = mapped_column(String(16))
    fw: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rssi_dbm: Mapped[float | None] = mapped_column(Float, nullable=True)
    battery_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    boot: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reset_cause: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class Status:
    """A meter's status at one time."""

    meter: str
    ts_s: int
    state: str
    fw: str | None
    rssi_dbm: float | None
    battery_pct: float | None
    boot: int | None
    reset_cause: str | None


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _status(r: StatusRow) -> Status:
    return Status(r.meter, r.ts_s, r.state, r.fw, r.rssi_dbm, r.battery_pct, r.boot, r.reset_cause)


def create_tables(db: Database) -> None:
    """Create the status table (idempotent)."""
    db.create_tables(_Base.metadata)


def record(session: Session, meter: str, payload: dict, received_s: int) -> Status:
    """Keep one status message (fields as in docs/protocol.md; unknown fields kept in `payload`)."""
    state = payload.get("state")
    row = StatusRow(
        meter=meter,
        ts_s=int(received_s),
        state=state if state in STATES else "unknown",
        fw=str(payload["fw"])[:32] if "fw" in payload else None,
        rssi_dbm=_num(payload.get("rssi_dbm")),
        battery_pct=_num(payload.get("battery_pct")),
        boot=int(payload["boot"]) if isinstance(payload.get("boot"), int) else None,
        reset_cause=str(payload["reset_cause"])[:32] if "reset_cause" in payload else None,
        payload=payload,
    )
    session.add(row)
    session.flush()
    return _status(row)


def latest(session: Session, meters: Iterable[str] | None = None) -> dict[str, Status]:
    """Each meter's newest status (all meters when None); a birth's fields survive a later last will."""
    wanted = None if meters is None else list(meters)

    def newest(online_only: bool) -> dict[str, StatusRow]:
        q = select(StatusRow.meter, func.max(StatusRow.id).label("id"))
        if online_only:
            q = q.where(StatusRow.state == "online")
        if wanted is not None:
            q = q.where(StatusRow.meter.in_(wanted))
        sub = q.group_by(StatusRow.meter).subquery()
        return {r.meter: r for r in session.scalars(select(StatusRow).join(sub, StatusRow.id == sub.c.id))}

    rows, births = newest(False), newest(True)
    out = {}
    for meter, r in rows.items():
        b = births.get(meter, r)
        out[meter] = Status(meter, r.ts_s, r.state, b.fw, b.rssi_dbm, b.battery_pct, b.boot, b.reset_cause)
    return out


def history(session: Session, meter: str, limit: int = 200) -> list[Status]:
    """The meter's status messages, newest first."""
    q = select(StatusRow).where(StatusRow.meter == meter).order_by(StatusRow.id.desc()).limit(limit)
    return [_status(r) for r in session.scalars(q)]
