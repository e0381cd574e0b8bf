"""VEE for one point on demand: raw readings + edits + lifecycle → validated series, review items raised."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ingest.model import Reading
from ingest.store.base import Store
from vee import lifecycle
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.lifecycle import LifecycleEvent
from vee.model import Edit, EditAction, ReasonCode
from vee.raw import fetch_readings
from vee.series import Series, build_series

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
        wins = lifecycle.windows(point, self.db.events(point))
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
            raise ValueError(f"name the meter: point {point} has meters {meters}")
        if action == EditAction.REPLACE and (value_ml is None or value_ml < 0):
            raise ValueError("replace needs a total >= 0")
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
            raise LookupError(f"no reading of {meter} at ts {ts_s} to confirm")
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
