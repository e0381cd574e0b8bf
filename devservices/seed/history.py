"""A home's register minute by minute over the history, its hourly spans and its daily litres.

The register is what the meter's pulse output would have counted: the households' draws and leaks
(hardware_sim.household) integrated exactly at every minute boundary, in whole pulses. Spans and litres
come from the one consumption rule (core.consumption, core.usage), so the roll-ups, the ledger and the
usage API all agree with the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from core.consumption import Mark, Span, fold_marks
from core.timezones import day_bounds_s, zone
from core.units import HOUR_S, MINUTE_S, litres
from core.usage import MeterGrid, usage_from_grid
from devservices.seed.plan import Home, Plan
from hardware_sim.household import Household

BOOT = 1  # the seeded history is one boot of each meter's board
ML_PER_PULSE = 1000  # 1 L per pulse, as the live meters count


@dataclass
class Register:
    """A home's minute readings over (origin, now]: reading k is at origin_s + 60·k with seq k + 1."""

    meter_id: str
    origin_s: int
    totals_ml: np.ndarray  # int64, one per minute from origin_s to now_s inclusive

    def ts(self, k: int) -> int:
        """Timestamp of reading k."""
        return self.origin_s + MINUTE_S * k

    @property
    def last_ts_s(self) -> int:
        return self.ts(len(self.totals_ml) - 1)

    @property
    def last_total_ml(self) -> int:
        return int(self.totals_ml[-1])

    @property
    def last_seq(self) -> int:
        return len(self.totals_ml)

    def index_of(self, ts_s: int) -> int:
        """Index of the reading at ts_s (a minute boundary within the history)."""
        return (ts_s - self.origin_s) // MINUTE_S

    def mark(self, k: int) -> Mark:
        """The rule's view of reading k."""
        return Mark(self.ts(k), int(self.totals_ml[k]), BOOT)


def drawn_ml(households: list[Household], times_s: np.ndarray) -> np.ndarray:
    """Millilitres the households drew (leaks included) from virtual 0 to each time, exactly.

    The flow is piecewise constant: sum the rate changes at each draw's and leak's start and end, then
    integrate between consecutive changes.
    """
    t_end = float(times_s[-1]) if len(times_s) else 0.0
    starts, ends, rates = [], [], []
    for house in households:
        for d in house.draws(0.0, t_end + 1):
            starts.append(d.start_s)
            ends.append(d.end_s)
            rates.append(d.flow_lpm * 1000.0 / 60.0)
        for leak in house.leaks:
            starts.append(leak.start_s)
            ends.append(leak.end_s)
            rates.append(leak.flow_lph * 1000.0 / 3600.0)
    if not starts:
        return np.zeros(len(times_s))
    ev_t = np.concatenate([np.asarray(starts), np.asarray(ends)])
    ev_r = np.concatenate([np.asarray(rates), -np.asarray(rates)])
    order = np.argsort(ev_t, kind="stable")
    ev_t, ev_r = ev_t[order], ev_r[order]
    rate_after = np.cumsum(ev_r)  # ml/s from each change to the next
    at_change = np.concatenate([[0.0], np.cumsum(rate_after[:-1] * np.diff(ev_t))])
    idx = np.searchsorted(ev_t, times_s, side="right") - 1
    safe = np.maximum(idx, 0)
    out = at_change[safe] + rate_after[safe] * (times_s - ev_t[safe])
    return np.where(idx >= 0, out, 0.0)


def register(home: Home, plan: Plan) -> Register:
    """The home's register at every minute boundary of the history, in whole pulses."""
    n = (plan.now_s - plan.origin_s) // MINUTE_S + 1
    times = np.arange(n, dtype=np.float64) * MINUTE_S
    pulses = np.floor(drawn_ml(home.households, times) / ML_PER_PULSE + 1e-9).astype(np.int64)
    return Register(home.meter_id, plan.origin_s, home.initial_ml + pulses * ML_PER_PULSE)


def hour_spans(reg: Register) -> list[tuple[int, Span, float | None]]:
    """(hour H, span of the readings in (H, H+3600], highest flow L/min) for every hour of the history.

    The span is folded by core.consumption from the hour's first reading, every reading whose total
    differs from the one before it, and its last reading, with n the hour's reading count: on one boot a
    reading equal to its predecessor neither starts a segment nor moves a maximum, so leaving it out
    changes nothing but n (tests/devservices/test_seed.py folds every reading of every hour and compares).
    """
    totals = reg.totals_ml.tolist()
    changed = (np.flatnonzero(np.diff(reg.totals_ml)) + 1).tolist()  # totals that differ from the one before
    flows = np.diff(reg.totals_ml) / 1000.0  # L/min since the previous reading (one minute apart)
    origin, boot = reg.origin_s, BOOT
    out: list[tuple[int, Span, float | None]] = []
    hour = (origin - 1) // HOUR_S * HOUR_S
    k, c, n_total, n_changed = 0, 0, len(totals), len(changed)
    lasts: list[int] = []
    while k < n_total:
        last = min(n_total - 1, (hour + HOUR_S - origin) // MINUTE_S)
        picks = [k]
        while c < n_changed and changed[c] <= last:
            if changed[c] > k:
                picks.append(changed[c])
            c += 1
        if picks[-1] != last:
            picks.append(last)
        span = fold_marks([Mark(origin + MINUTE_S * j, totals[j], boot) for j in picks])
        assert span is not None
        out.append((hour, span._replace(n=last - k + 1), None))
        lasts.append(last)
        k = last + 1
        hour += HOUR_S
    # Peak flow per hour: the highest flow of its readings (a reading's flow is since the one before).
    if len(flows):
        starts = [max(0, (lasts[i - 1] + 1 if i else 0) - 1) for i in range(len(lasts))]
        peaks = np.maximum.reduceat(flows, np.minimum(starts, len(flows) - 1)).tolist()
        for i, (h, span, _p) in enumerate(out):
            if lasts[i] >= 1:
                out[i] = (h, span, peaks[i])
    return out


def day_litres(
    reg: Register, spans: list[tuple[int, Span, float | None]], days: list[date], zone_name: str
) -> dict[date, Decimal]:
    """Litres of each local day by the consumption rule over the hour spans (the usage API's path)."""
    if not days:
        return {}
    tz = zone(zone_name)
    bounds = [day_bounds_s(d, tz)[0] for d in days] + [day_bounds_s(days[-1], tz)[1]]
    anchor_k = reg.index_of(bounds[0]) if bounds[0] >= reg.origin_s else None
    baseline = Span.of(reg.mark(anchor_k)) if anchor_k is not None else None
    steps = [(h, s) for h, s, _p in spans if bounds[0] <= h < bounds[-1]]
    used = usage_from_grid(MeterGrid(steps, baseline), bounds, HOUR_S)
    return {d: litres(iv.used_ml) for d, iv in zip(days, used.intervals, strict=True)}


def days_between(first: date, last: date) -> list[date]:
    """Every date from first to last inclusive."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]
