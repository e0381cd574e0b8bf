"""Meter lifecycle: provisioned → active → decommissioned, each change an event (who, when, why).

Provisioned: the meter has credentials but is not installed; its readings are refused. Active: the
ingest stores its readings. Decommissioned: final; its readings are refused again (`unknown_meter`),
what it stored before stays. A replaced meter gets a new id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.ids import check_meter_id
from storage import registry as tables
from storage.sql import Database, utcnow

MAX_PAGE = 1000
CHUNK = 5000  # rows per bulk statement (SQLite's variable limit is 32,766)


class State(StrEnum):
    """Where a meter is in its life."""

    PROVISIONED = "provisioned"
    ACTIVE = "active"
    DECOMMISSIONED = "decommissioned"


# The only moves: event kind per (from, to).
_MOVES = {
    (None, State.PROVISIONED): "provisioned",
    (None, State.ACTIVE): "provisioned+activated",
    (State.PROVISIONED, State.ACTIVE): "activated",
    (State.PROVISIONED, State.DECOMMISSIONED): "decommissioned",
    (State.ACTIVE, State.DECOMMISSIONED): "decommissioned",
}


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """A registered meter."""

    meter_id: str
    state: State
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RegistryEventOut:
    """One lifecycle event."""

    meter_id: str
    kind: str
    at: datetime
    actor: str
    detail: str


def _record(row: tables.RegistryMeter) -> MeterRecord:
    return MeterRecord(row.meter_id, State(row.state), row.created_at, row.updated_at)


class Registry:
    """The registry over the utility's SQL database."""

    def __init__(self, db: Database):
        self.db = db
        tables.create_tables(db)

    def _move(
        self, s: Session, meter_id: str, to: State, actor: str, detail: str, create: bool = False
    ) -> MeterRecord:
        check_meter_id(meter_id)
        row = s.get(tables.RegistryMeter, meter_id, with_for_update=True)
        if row is None and not create:
            raise NotFound(f"meter {meter_id} is not registered")
        frm = State(row.state) if row is not None else None
        if frm == to:
            return _record(row)  # type: ignore[arg-type]  # idempotent: asking twice is no new event
        kind = _MOVES.get((frm, to))
        if kind is None:
            if frm is None:
                raise NotFound(f"meter {meter_id} is not registered")
            raise Conflict(f"meter {meter_id} is {frm.value}: it cannot become {to.value}")
        change = tables.next_change(s)
        now = utcnow()
        if row is None:
            row = tables.RegistryMeter(meter_id=meter_id, state=to.value, created_at=now)
            s.add(row)
        row.state, row.updated_at, row.change = to.value, now, change
        s.add(
            tables.RegistryEvent(meter_id=meter_id, kind=kind, at=now, actor=actor[:64], detail=detail[:500])
        )
        s.flush()
        return _record(row)

    def provision(self, meter_id: str, actor: str, activate: bool = True, detail: str = "") -> MeterRecord:
        """Register a meter (active at once unless `activate` is False).

        A provisioned meter asked again with `activate` becomes active; asking for what is already so is
        no new event; a decommissioned id is never reused (Conflict).
        """
        with self.db.session() as s:
            row = s.get(tables.RegistryMeter, check_meter_id(meter_id))
            if row is None:
                state = State.ACTIVE if activate else State.PROVISIONED
                return self._move(s, meter_id, state, actor, detail, create=True)
            state = State(row.state)
            if state == State.DECOMMISSIONED:
                raise Conflict(f"meter {meter_id} was decommissioned: meter ids are not reused")
            if activate and state == State.PROVISIONED:
                return self._move(s, meter_id, State.ACTIVE, actor, detail)
            return _record(row)

    def provision_many(self, meter_ids: list[str], actor: str, activate: bool = True) -> int:
        """Register many new meters at once (demo fleets, benchmarks, migrations); returns how many were new.

        Ids already registered are left as they are. Bulk statements, CHUNK rows each: a million meters
        take seconds, not the hours one transaction per meter would.
        """
        for m in meter_ids:
            check_meter_id(m)
        state = State.ACTIVE if activate else State.PROVISIONED
        kind = _MOVES[(None, state)]
        new = 0
        for i in range(0, len(meter_ids), CHUNK):
            chunk = sorted(set(meter_ids[i : i + CHUNK]))
            with self.db.session() as s:
                known = set(
                    s.execute(
                        select(tables.RegistryMeter.meter_id).where(tables.RegistryMeter.meter_id.in_(chunk))
                    ).scalars()
                )
                fresh = [m for m in chunk if m not in known]
                if not fresh:
                    continue
                change = tables.next_change(s)
                now = utcnow()
                s.execute(
                    insert(tables.RegistryMeter),
                    [
                        {
                            "meter_id": m,
                            "state": state.value,
                            "created_at": now,
                            "updated_at": now,
                            "change": change,
                        }
                        for m in fresh
                    ],
                )
                s.execute(
                    insert(tables.RegistryEvent),
                    [
                        {"meter_id": m, "kind": kind, "at": now, "actor": actor[:64], "detail": "bulk"}
                        for m in fresh
                    ],
                )
                new += len(fresh)
        return new

    def activate(self, meter_id: str, actor: str, detail: str = "") -> MeterRecord:
        """Installed: its readings are stored from now on."""
        with self.db.session() as s:
            return self._move(s, meter_id, State.ACTIVE, actor, detail)

    def decommission(self, meter_id: str, actor: str, detail: str = "") -> MeterRecord:
        """Removed for good: its readings are refused from now on; what it stored stays."""
        with self.db.session() as s:
            return self._move(s, meter_id, State.DECOMMISSIONED, actor, detail)

    def get(self, meter_id: str) -> MeterRecord:
        """One meter, or NotFound."""
        with self.db.session() as s:
            row = s.get(tables.RegistryMeter, check_meter_id(meter_id))
            if row is None:
                raise NotFound(f"meter {meter_id} is not registered")
            return _record(row)

    def meters(self, state: State | None = None, after: str = "", limit: int = 100) -> list[MeterRecord]:
        """Meters in id order after `after` (keyset paging), optionally of one state."""
        q = select(tables.RegistryMeter).where(tables.RegistryMeter.meter_id > after)
        if state is not None:
            q = q.where(tables.RegistryMeter.state == state.value)
        q = q.order_by(tables.RegistryMeter.meter_id).limit(max(1, min(limit, MAX_PAGE)))
        with self.db.session() as s:
            return [_record(r) for r in s.execute(q).scalars()]

    def known_ids(self) -> frozenset[str]:
        """Every registered meter id, whatever its state (decommissioned meters keep their history)."""
        with self.db.session() as s:
            return frozenset(s.execute(select(tables.RegistryMeter.meter_id)).scalars())

    def active_ids(self) -> frozenset[str]:
        """Every active meter id (the fleet views and the leak monitor list these)."""
        return tables.active_meters(self.db)

    def events(self, meter_id: str, limit: int = 100) -> list[RegistryEventOut]:
        """A meter's lifecycle events, oldest first."""
        q = (
            select(tables.RegistryEvent)
            .where(tables.RegistryEvent.meter_id == check_meter_id(meter_id))
            .order_by(tables.RegistryEvent.id)
            .limit(max(1, min(limit, MAX_PAGE)))
        )
        with self.db.session() as s:
            return [
                RegistryEventOut(e.meter_id, e.kind, e.at, e.actor, e.detail) for e in s.execute(q).scalars()
            ]
