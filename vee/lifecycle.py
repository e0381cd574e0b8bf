"""Meter lifecycle at a service point: install, swap, removal; and who lived there (move-in/out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from core.errors import Invalid
from vee.model import Window


class EventKind(StrEnum):
    INSTALL = "install"
    SWAP = "swap"
    REMOVE = "remove"
    MOVE_IN = "move_in"
    MOVE_OUT = "move_out"


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One event at a point; reads are register totals in ml at ts_s."""

    point: str
    kind: EventKind
    ts_s: int
    meter: str | None = None
    read_ml: int | None = None  # install: initial read; swap/remove: final read of `meter`
    new_meter: str | None = None
    new_read_ml: int | None = None  # swap: initial read of `new_meter`
    account: str | None = None
    operator: str = ""
    note: str = ""
    id: int | None = None

    def check(self) -> None:
        """Raise ValueError naming what this kind of event is missing."""
        need = {
            EventKind.INSTALL: ("meter", "read_ml"),
            EventKind.REMOVE: ("meter", "read_ml"),
            EventKind.SWAP: ("meter", "read_ml", "new_meter", "new_read_ml"),
            EventKind.MOVE_IN: ("account",),
            EventKind.MOVE_OUT: ("account",),
        }[self.kind]
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise Invalid(f"{self.kind.value} event needs {', '.join(missing)}")
        for name in ("read_ml", "new_read_ml"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise Invalid(f"{name} must be >= 0 ml")


def windows(point: str, events: Iterable[LifecycleEvent]) -> list[Window]:
    """Installation windows of a point; with no meter events, the meter of the point's id, forever."""
    evs = sorted(
        (e for e in events if e.kind in (EventKind.INSTALL, EventKind.SWAP, EventKind.REMOVE)),
        key=lambda e: (e.ts_s, e.id or 0),
    )
    out: list[Window] = []
    current: Window | None = None
    for e in evs:
        e.check()
        if e.kind == EventKind.INSTALL:
            if current is not None:
                raise Invalid(f"install at {e.ts_s}: {current.meter} is still installed; swap or remove it")
            current = Window(e.meter or "", e.ts_s, None, e.read_ml, None)  # check(): meter is set
            continue
        if current is None:
            if out:
                raise Invalid(f"{e.kind.value} at {e.ts_s}: no meter is installed")
            current = Window(e.meter or "")  # installed before records began
        if current.meter != e.meter:
            raise Invalid(f"{e.kind.value} at {e.ts_s} names {e.meter}, but {current.meter} is installed")
        out.append(Window(current.meter, current.start_s, e.ts_s, current.initial_ml, e.read_ml))
        current = (
            Window(e.new_meter or "", e.ts_s, None, e.new_read_ml, None) if e.kind == EventKind.SWAP else None
        )
    if current is not None:
        out.append(current)
    return out or [Window(point)]


@dataclass(frozen=True, slots=True)
class Occupancy:
    """An account at a point over (start_s, end_s]; end None while it still lives there."""

    account: str
    start_s: int
    end_s: int | None


def occupancies(events: Iterable[LifecycleEvent]) -> list[Occupancy]:
    """Move-in/move-out pairs in time order; a move-out without a move-in is an error."""
    open_: dict[str, int] = {}
    out = []
    for e in sorted(events, key=lambda e: (e.ts_s, e.id or 0)):
        if e.kind == EventKind.MOVE_IN:
            e.check()
            open_[e.account or ""] = e.ts_s
        elif e.kind == EventKind.MOVE_OUT:
            e.check()
            if e.account not in open_:
                raise Invalid(f"move-out of {e.account} at {e.ts_s} without a move-in")
            assert e.account is not None  # check() above
            out.append(Occupancy(e.account, open_.pop(e.account), e.ts_s))
    out.extend(Occupancy(a, t, None) for a, t in open_.items())
    return sorted(out, key=lambda o: o.start_s)


def overlap(occ: Occupancy, start_s: int, stop_s: int) -> tuple[int, int] | None:
    """The part of (start_s, stop_s] the account lived there, or None."""
    lo = max(start_s, occ.start_s)
    hi = stop_s if occ.end_s is None else min(stop_s, occ.end_s)
    return (lo, hi) if hi > lo else None


def proration(occ: Occupancy, start_s: int, stop_s: int) -> Fraction:
    """Share of the billing period the account occupied (exact fraction of seconds)."""
    part = overlap(occ, start_s, stop_s)
    return Fraction(0) if part is None else Fraction(part[1] - part[0], stop_s - start_s)


def prorate_fen(amount_fen: int, share: Fraction) -> int:
    """A fixed charge times an occupancy share, rounded half up to whole fen."""
    value = amount_fen * share
    return int(value.numerator * 2 + value.denominator) // (2 * value.denominator)
