"""VEE for one point on demand: raw readings + edits + lifecycle → validated series, review items raised."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.errors import Conflict, Invalid, NotFound
from core.readings import Reading
from core.timezones import day_bounds_s, month_bounds_s, zone
from core.units import litres
from storage.readings.base import Store
from vee import lifecycle
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.lifecycle import LifecycleEvent
from vee.model import Edit, EditAction, ReasonCode, Series
from vee.raw import fetch_readings
from vee.series import build_series

MAX_LOOKAROUND_S = 400 * 86400  # how far to look for a reading that anchors a range edge


@dataclass(frozen=True, slots=True)
class SeriesView:
    """A validated series with the raw readings it came from."""

    series: Series
    raw: list[Reading]


class VeeService:
    """Glue between the raw store, the VEE database and the pure core."""

    def __init__(self, store: Store, db: VeeDb, cfg: VeeConfig | None = None):
        self.store = store
        self.db = db
        self.cfg = cfg or VeeConfig()

    def _raw(self, meters: list[str], start_s: int, stop_s: int) -> list[Reading]:
        context_s = max(self.cfg.history_days, self.cfg.zero_days) * 86400
        lo, hi = start_s - context_s, stop_s + self.cfg.gap_s
        raw = [r for m in meters for r in fetch_readings(self.store, m, lo, hi)]
        # Widen until a reading anchors each edge, so a long gap across an edge is still exact.
        step = context_s
        while not any(r.ts_s <= start_s for r in raw) and start_s - lo < MAX_LOOKAROUND_S:
            raw += [r for m in meters for r in fetch_readings(self.store, m, lo - step, lo)]
            lo -= step
            step *= 2
        step = context_s
        while not any(r.ts_s >= stop_s for r in raw) and hi - stop_s < MAX_LOOKAROUND_S:
            raw += [r for m in meters for r in fetch_readings(self.store, m, hi, hi + step)]
            hi += step
            step *= 2
        return raw

    def view(self, point: str, start_s: int, stop_s: int, now_s: int | None = None) -> SeriesView:
        """The validated series around (start_s, stop_s]; new findings become review items."""
        now = int(time.time()) if now_s is None else now_s
        try:
            wins = lifecycle.windows(point, self.db.events(point))
        except Invalid as err:  # stored history that contradicts itself: the data, not the request
            raise Conflict(f"inconsistent lifecycle history of {point}: {err}") from err
        meters = sorted({w.meter for w in wins})
        raw = self._raw(meters, start_s, stop_s)
        series = build_series(point, raw, self.cfg, now, windows=wins, edits=self.db.edits(meters))
        self.db.sync_findings(series.findings, now)
        return SeriesView(series, sorted(raw, key=lambda r: (r.ts_s, r.meter)))

    def meters_of(self, point: str) -> list[str]:
        return sorted({w.meter for w in lifecycle.windows(point, self.db.events(point))})

    def edit(
        self,
        point: str,
        meter: str | None,
        ts_s: int,
        action: EditAction,
        reason: ReasonCode,
        operator: str,
        value_ml: int | None = None,
        note: str = "",
        now_s: int | None = None,
    ) -> Edit:
        """Replace or confirm one reading; the value before is the raw or last edited value."""
        now = int(time.time()) if now_s is None else now_s
        meters = self.meters_of(point)
        meter = meter or (meters[0] if len(meters) == 1 else None)
        if meter is None or meter not in meters:
            raise Invalid(f"name the meter: point {point} has meters {meters}")
        if action == EditAction.REPLACE and (value_ml is None or value_ml < 0):
            raise Invalid("replace needs a total >= 0")
        before = next(
            (
                e.value_ml
                for e in reversed(self.db.edits([meter]))
                if e.ts_s == ts_s and e.action == EditAction.REPLACE
            ),
            None,
        )
        if before is None:
            raw = fetch_readings(self.store, meter, ts_s - 1, ts_s)
            before = raw[0].total_ml if raw else None
        if action == EditAction.CONFIRM and before is None:
            raise NotFound(f"no reading of {meter} at ts {ts_s} to confirm")
        edit = self.db.add_edit(
            Edit(
                meter,
                ts_s,
                action,
                reason,
                operator,
                now,
                value_ml if action == EditAction.REPLACE else before,
                before,
                note,
            )
        )
        self.db.resolve(meter, ts_s, operator, now, f"{action.value} ({reason.value}) by edit {edit.id}")
        return edit

    def add_event(self, event: LifecycleEvent) -> LifecycleEvent:
        """Record a lifecycle event after checking the point's history stays consistent."""
        event.check()
        events = [*self.db.events(event.point), event]
        lifecycle.windows(event.point, events)
        lifecycle.occupancies(events)
        return self.db.add_event(event)


class VeeConsumption:
    """The ledger's consumption from the validated series (one bill): (meter id, local day) -> litres.

    A day's use is C(day end) − C(day start) in the series built for the day's local month (kept for the
    life of this object), so the month's day charges add up to the month's validated consumption and
    VEE's determinants for that month (docs/billing.md, "One bill"). Days are local in the zone
    `tz_of(meter)` names: the meter's utility's zone, the one the ledger counts days in. Build a new one
    per charging run.
    """

    def __init__(
        self, service: VeeService, tz_of: Callable[[str], str], clock: Callable[[], float] = time.time
    ):
        self.service = service
        self.tz_of = tz_of
        self.clock = clock
        self._months: dict[tuple[str, int, int], Series] = {}

    def month_series(self, point: str, year: int, month: int) -> Series:
        """The validated series of a local month (cached)."""
        key = (point, year, month)
        if key not in self._months:
            start_s, stop_s = month_bounds_s(year, month, zone(self.tz_of(point)))
            self._months[key] = self.service.view(point, start_s, stop_s, int(self.clock())).series
        return self._months[key]

    def __call__(self, meter_id: str, day: date) -> Decimal:
        series = self.month_series(meter_id, day.year, day.month)
        start_s, stop_s = day_bounds_s(day, zone(self.tz_of(meter_id)))
        return litres(series.consumption(start_s, stop_s))
