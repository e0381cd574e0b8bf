"""Streaming leak detector: per-meter state fed one minute at a time, serialisable across restarts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from leaks import rules
from leaks.config import LeakConfig
from leaks.model import (
    BURST,
    BURST_HISTORY,
    CONTINUOUS,
    DRIPPING,
    NIGHT_FLOOR,
    RUNNING_TOILET,
    LeakAlert,
    LeakEvent,
)
from leaks.rules import Finding

STATE_VERSION = 1
MINUTE_S = 60
HOUR_S = 3600
DAY_S = 86400
RUN_KEEP_MINUTES = 240  # a draw's rate comes from its latest minutes
FULL_DAY_MINUTES = 1380  # a day with at least 23 h of data may teach the draw history
# When several background rules fire in the same step, the most specific one names the alert.
BG_PRIORITY = (RUNNING_TOILET, NIGHT_FLOOR, CONTINUOUS, DRIPPING)
# Whose rate estimate to trust, best first: counted refills, then the longest window of hours.
RATE_AUTHORITY = (RUNNING_TOILET, CONTINUOUS, NIGHT_FLOOR, DRIPPING)


@dataclass
class MeterState:
    """Everything the detector remembers about one meter; plain data so it can be saved."""

    last_ts: int | None = None
    # Hourly volumes: hours[i] starts at hours_first_s + 3600 i; missing minutes count as 0 L.
    cur_hour_s: int | None = None
    cur_vol_l: float = 0.0
    cur_present: int = 0
    hours_first_s: int = 0
    hours: list[float] = field(default_factory=list)
    hours_present: list[int] = field(default_factory=list)
    bg_since_s: int = 0  # background windows start here (after a resolved leak or a long gap)
    night_baseline: list[float] = field(default_factory=list)
    # Running-toilet refills of the current night.
    night_id: int | None = None
    night_refills: list[list[float]] = field(default_factory=list)
    night_vol_l: float = 0.0
    rf_night_l: float = 0.0
    rf_start_s: int = 0
    rf_minutes: int = 0
    rf_vol_l: float = 0.0
    # Burst runs: consecutive usable minutes at or above the burst flows.
    hi_minutes: int = 0
    hi_start_s: int = 0
    fast_minutes: int = 0
    fast_start_s: int = 0
    # Current draw (consecutive minutes at or above draw_min_lpm) and the daily largest draws.
    run_minutes: int = 0
    run_start_s: int = 0
    run_vol_l: float = 0.0
    run_vals: list[float] = field(default_factory=list)  # the draw's latest minutes, for its rate
    run_alerted: bool = False
    day_id: int | None = None
    day_max_l: float = 0.0
    day_present: int = 0
    day_alerted: bool = False
    day_maxes: list[float] = field(default_factory=list)
    bg_alert: LeakAlert | None = None
    bg_floor_lph: float = 0.0  # the open background leak resolves after quiet hours below half of this
    bg_rate_rule: str = ""
    bg_quiet_hours: int = 0
    burst_alert: LeakAlert | None = None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("bg_alert", "burst_alert"):
            data[key] = data[key].to_dict() if data[key] is not None else None
        return asdict(MeterState()) | data

    @classmethod
    def from_dict(cls, data: Mapping) -> MeterState:
        """Inverse of to_dict; refuses unknown or missing keys by name."""
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - known), sorted(known - set(data))
        if unknown or missing:
            raise ValueError(f"bad meter state: unknown keys {unknown}, missing keys {missing}")
        values = dict(data)
        for key in ("bg_alert", "burst_alert"):
            if values[key] is not None:
                values[key] = LeakAlert.from_dict(values[key])
        return cls(**values)


def _check_minute(meter_id: object, minute_ts_s: object, litres: object) -> tuple[int, float]:
    if not isinstance(meter_id, str) or not meter_id:
        raise ValueError(f"meter_id must be a non-empty string, got {meter_id!r}")
    if type(minute_ts_s) is not int:
        if isinstance(minute_ts_s, float) and minute_ts_s.is_integer():
            minute_ts_s = int(minute_ts_s)
        else:
            raise ValueError(f"minute_ts_s must be whole Unix seconds, got {minute_ts_s!r}")
    if minute_ts_s % MINUTE_S:
        raise ValueError(f"minute_ts_s must be the start of a minute (a multiple of 60), got {minute_ts_s}")
    if isinstance(litres, bool) or not isinstance(litres, int | float):
        raise ValueError(f"litres must be a number, got {litres!r}")
    if not math.isfinite(litres) or litres < 0:
        raise ValueError(f"litres must be finite and >= 0, got {litres!r}")
    return minute_ts_s, float(litres)


class LeakDetector:
    """Feed it each meter's litres per minute; it returns open/update/resolve events, one alert per leak."""

    def __init__(self, config: LeakConfig | None = None):
        self.config = config or LeakConfig()
        self._meters: dict[str, MeterState] = {}
        cfg = self.config
        self._keep_h = max(cfg.continuous_window_h, cfg.drip_window_h, 24, cfg.night_hours) + 1

    # ---- public API -------------------------------------------------------------------------------------

    def update(self, meter_id: str, minute_ts_s: int, litres: float) -> list[LeakEvent]:
        """Take the litres of the minute starting at minute_ts_s; return the alert events it caused."""
        ts, litres = _check_minute(meter_id, minute_ts_s, litres)
        st = self._meters.get(meter_id)
        if st is None:
            st = self._meters[meter_id] = MeterState()
        if st.last_ts is not None and ts <= st.last_ts:
            raise ValueError(f"meter {meter_id}: minute {ts} is not after the last one received"
                             f" ({st.last_ts})")
        events: list[LeakEvent] = []
        # The first minute after a gap may carry the gap's catch-up volume, from unknown times: it counts
        # nowhere (as if missing too), so missing data can neither fill an hour nor start a run.
        usable = st.last_ts is not None and ts - st.last_ts == MINUTE_S
        hour_s = ts - ts % HOUR_S
        if hour_s != st.cur_hour_s:
            self._roll_hours(meter_id, st, hour_s, events)
        if usable:
            st.cur_vol_l += litres
            st.cur_present += 1
        self._roll_day(st, ts)
        self._minute_burst(meter_id, st, ts, litres, usable, events)
        self._minute_toilet(meter_id, st, ts, litres, usable, events)
        st.last_ts = ts
        return events

    def open_alerts(self, meter_id: str) -> list[LeakAlert]:
        """The meter's alerts that are open now."""
        st = self._meters.get(meter_id)
        if st is None:
            return []
        return [a for a in (st.bg_alert, st.burst_alert) if a is not None]

    def to_dict(self) -> dict:
        """Whole detector state (config and every meter) as a JSON-safe dict."""
        return {
            "version": STATE_VERSION,
            "config": self.config.to_dict(),
            "meters": {m: st.to_dict() for m, st in self._meters.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping, config: LeakConfig | None = None) -> LeakDetector:
        """Restore a detector saved with to_dict; `config` (configured now) wins over the saved one."""
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            raise ValueError(f"leak detector state must be a dict with version {STATE_VERSION}")
        try:
            det = cls(config or LeakConfig.from_dict(data["config"]))
            det._meters = {str(m): MeterState.from_dict(s) for m, s in data["meters"].items()}
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"bad leak detector state: {err!r}") from err
        return det

    # ---- hours: continuous flow, dripping, night floor ----------------------------------------------------

    def _roll_hours(self, meter_id: str, st: MeterState, hour_s: int, events: list[LeakEvent]) -> None:
        if st.cur_hour_s is None:
            st.hours_first_s = st.bg_since_s = hour_s
        else:
            self._close_hour(meter_id, st, st.cur_hour_s, st.cur_vol_l, st.cur_present, events)
            missing_h = (hour_s - st.cur_hour_s) // HOUR_S - 1
            if missing_h > self._keep_h:
                # A gap longer than every window: start the hourly history afresh (missing, so no verdict).
                st.hours, st.hours_present = [], []
                st.hours_first_s = st.bg_since_s = hour_s
            else:
                for k in range(missing_h):
                    self._close_hour(meter_id, st, st.cur_hour_s + HOUR_S * (k + 1), 0.0, 0, events)
        st.cur_hour_s, st.cur_vol_l, st.cur_present = hour_s, 0.0, 0

    def _close_hour(self, meter_id: str, st: MeterState, hs: int, vol_l: float, present: int,
                    events: list[LeakEvent]) -> None:
        cfg = self.config
        st.hours.append(vol_l)
        st.hours_present.append(present)
        if len(st.hours) > self._keep_h + 24:
            cut = len(st.hours) - self._keep_h
            del st.hours[:cut], st.hours_present[:cut]
            st.hours_first_s += cut * HOUR_S
        end_s = hs + HOUR_S
        bg = st.bg_alert
        if bg is not None:
            # Daytime use hides whether the leak stopped; quiet hours, several in a row, show it.
            quiet = present == 60 and vol_l < cfg.resolve_fraction * st.bg_floor_lph
            st.bg_quiet_hours = st.bg_quiet_hours + 1 if quiet else 0
            if st.bg_quiet_hours >= cfg.resolve_quiet_hours:
                self._resolve(st, "bg_alert", end_s - cfg.resolve_quiet_hours * HOUR_S, end_s, events)
                st.bg_since_s = end_s
                return
        if st.burst_alert is not None:
            return  # the burst's own flow would look like a background leak
        avail_h = len(st.hours) - max(0, (st.bg_since_s - st.hours_first_s) // HOUR_S)
        found: list[Finding] = []
        w = cfg.continuous_window_h
        if avail_h >= w:
            f = rules.continuous_flow(cfg, st.hours[-avail_h:], end_s - avail_h * HOUR_S)
            if f:
                found.append(f)
        w = cfg.drip_window_h
        if avail_h >= w:
            f = rules.dripping(cfg, st.hours[-w:], end_s - w * HOUR_S)
            if f:
                found.append(f)
        nh = cfg.night_hours
        if (cfg.local_s(end_s) // HOUR_S) % 24 == cfg.night_end_h and avail_h >= nh:
            night = st.hours[-nh:]
            f = None
            if len(st.night_baseline) >= cfg.night_min_baseline_nights:
                f = rules.night_floor(cfg, night, end_s - nh * HOUR_S, statistics.median(st.night_baseline))
            if f:
                found.append(f)
            elif st.bg_alert is None and all(p == 60 for p in st.hours_present[-nh:]):
                # Only whole nights without a leak teach the baseline: a gap would pull it down.
                st.night_baseline.append(min(night))
                del st.night_baseline[:-cfg.night_baseline_nights]
        if found:
            self._background(meter_id, st, found, end_s, events)

    # ---- background alert lifecycle ----------------------------------------------------------------------

    def _background(self, meter_id: str, st: MeterState, found: list[Finding], now_s: int,
                    events: list[LeakEvent]) -> None:
        found.sort(key=lambda f: BG_PRIORITY.index(f.kind))
        lead = found[0]
        kinds = [f.kind for f in found]
        bg = st.bg_alert
        if bg is None:
            evidence = dict(lead.evidence, rules=kinds)
            st.bg_alert = LeakAlert(meter_id, lead.kind, min(lead.started_at, now_s), now_s,
                                    round(lead.rate_lph, 3), lead.confidence, evidence, "open", now_s)
            st.bg_floor_lph, st.bg_rate_rule, st.bg_quiet_hours = lead.floor_lph, lead.kind, 0
            events.append(LeakEvent("open", st.bg_alert))
            return
        st.bg_floor_lph = min(st.bg_floor_lph, min(f.floor_lph for f in found))
        new_rules = [k for k in kinds if k not in bg.evidence.get("rules", [])]
        best = min(found, key=lambda f: RATE_AUTHORITY.index(f.kind))
        rate = bg.rate_lph
        if RATE_AUTHORITY.index(best.kind) <= RATE_AUTHORITY.index(st.bg_rate_rule) and (
                abs(best.rate_lph - bg.rate_lph) > self.config.update_rate_change * bg.rate_lph
                or best.kind != st.bg_rate_rule):
            rate, st.bg_rate_rule = round(best.rate_lph, 3), best.kind
        if new_rules or rate != bg.rate_lph:
            evidence = dict(bg.evidence)
            for f in found:
                evidence.update({k: v for k, v in f.evidence.items() if k != "rules"})
            evidence["rules"] = list(bg.evidence.get("rules", [])) + new_rules
            evidence["rate_from"] = st.bg_rate_rule
            st.bg_alert = replace(bg, rate_lph=rate, evidence=evidence, updated_at=now_s,
                                  confidence=max(bg.confidence, *(f.confidence for f in found)))
            events.append(LeakEvent("update", st.bg_alert))

    def _resolve(self, st: MeterState, slot: str, stopped_s: int, now_s: int,
                 events: list[LeakEvent]) -> None:
        alert = getattr(st, slot)
        done = replace(alert, status="resolved", resolved_at=stopped_s, updated_at=now_s)
        setattr(st, slot, None)
        events.append(LeakEvent("resolve", done))

    # ---- minutes: bursts and refills ---------------------------------------------------------------------

    def _roll_day(self, st: MeterState, ts: int) -> None:
        day = self.config.local_s(ts) // DAY_S
        if day != st.day_id:
            if st.day_id is not None and st.day_present >= FULL_DAY_MINUTES and not st.day_alerted:
                st.day_maxes.append(st.day_max_l)
                del st.day_maxes[:-self.config.burst_history_days]
            st.day_id, st.day_max_l, st.day_present = day, 0.0, 0
            st.day_alerted = st.burst_alert is not None
        st.day_present += 1

    def _minute_burst(self, meter_id: str, st: MeterState, ts: int, litres: float, usable: bool,
                      events: list[LeakEvent]) -> None:
        cfg = self.config
        if usable and litres >= cfg.burst_min_lpm:
            if st.hi_minutes == 0:
                st.hi_start_s = ts
            st.hi_minutes += 1
        else:
            st.hi_minutes = 0
        if usable and litres >= cfg.burst_fast_lpm:
            if st.fast_minutes == 0:
                st.fast_start_s = ts
            st.fast_minutes += 1
        else:
            st.fast_minutes = 0
        if usable and litres >= cfg.draw_min_lpm:
            if st.run_minutes == 0:
                st.run_start_s, st.run_vol_l, st.run_vals, st.run_alerted = ts, 0.0, [], False
            st.run_minutes += 1
            st.run_vol_l += litres
            st.run_vals.append(litres)
            if len(st.run_vals) > RUN_KEEP_MINUTES:
                del st.run_vals[0]
        elif st.run_minutes:
            if not st.run_alerted:
                st.day_max_l = max(st.day_max_l, st.run_vol_l)
            st.run_minutes = 0
            st.run_vals = []

        now_s = ts + MINUTE_S
        alert = st.burst_alert
        if alert is not None:
            if usable and litres * 60.0 < cfg.resolve_fraction * alert.rate_lph:
                self._resolve(st, "burst_alert", ts, now_s, events)
                st.hi_minutes = st.fast_minutes = st.run_minutes = 0
                st.run_vals = []
                st.bg_since_s = ts - ts % HOUR_S + HOUR_S
            return
        finding = None
        if st.hi_minutes >= cfg.burst_min_minutes:
            rate = run_rate_lph(st.run_vals[-st.hi_minutes:])
            finding = Finding(BURST, rate, st.hi_start_s, 0.9,
                              {"rules": [BURST], "minutes": st.hi_minutes, "above_lpm": cfg.burst_min_lpm})
        elif st.fast_minutes >= cfg.burst_fast_minutes:
            rate = run_rate_lph(st.run_vals[-st.fast_minutes:])
            finding = Finding(BURST, rate, st.fast_start_s, 0.95,
                              {"rules": [BURST], "minutes": st.fast_minutes, "above_lpm": cfg.burst_fast_lpm})
        elif st.run_minutes >= cfg.burst_history_min_minutes:
            armed = len(st.day_maxes) >= cfg.burst_history_min_days
            limit_l = (max(cfg.burst_history_min_l, cfg.burst_history_factor * max(st.day_maxes)) if armed
                       else cfg.burst_unarmed_l)
            if st.run_vol_l >= limit_l:
                finding = Finding(BURST_HISTORY, run_rate_lph(st.run_vals), st.run_start_s,
                                  0.8 if armed else 0.7,
                                  {"rules": [BURST_HISTORY], "minutes": st.run_minutes,
                                   "draw_l": round(st.run_vol_l, 3), "limit_l": round(limit_l, 3),
                                   "history_days": len(st.day_maxes)})
        if finding is not None:
            st.burst_alert = LeakAlert(meter_id, finding.kind, finding.started_at, now_s,
                                       round(finding.rate_lph, 3), finding.confidence, finding.evidence,
                                       "open", now_s)
            st.run_alerted = st.day_alerted = True
            events.append(LeakEvent("open", st.burst_alert))

    def _minute_toilet(self, meter_id: str, st: MeterState, ts: int, litres: float, usable: bool,
                       events: list[LeakEvent]) -> None:
        cfg = self.config
        local_s = cfg.local_s(ts)
        night_id = (local_s - cfg.night_start_h * HOUR_S) // DAY_S
        if night_id != st.night_id:
            st.night_id, st.night_refills, st.rf_minutes, st.night_vol_l = night_id, [], 0, 0.0
        night_before_l = st.night_vol_l
        st.night_vol_l += litres
        in_night = ((local_s // HOUR_S) % 24 - cfg.night_start_h) % 24 < cfg.night_hours
        if usable and litres >= cfg.toilet_refill_min_l:
            if st.rf_minutes == 0:
                st.rf_start_s, st.rf_vol_l, st.rf_night_l = ts, 0.0, night_before_l
            st.rf_minutes += 1
            st.rf_vol_l += litres
            return
        if st.rf_minutes == 0:
            return
        ended_cleanly = usable  # a refill cut short by missing data is not evidence of anything
        minutes, vol_l, start_s = st.rf_minutes, st.rf_vol_l, st.rf_start_s
        st.rf_minutes = 0
        if not (ended_cleanly and in_night and minutes <= cfg.toilet_refill_max_minutes
                and vol_l <= cfg.toilet_refill_max_l and st.burst_alert is None and start_s >= st.bg_since_s):
            return
        st.night_refills.append([start_s, vol_l, st.rf_night_l])
        f = rules.running_toilet(cfg, st.night_refills)
        if f:
            self._background(meter_id, st, [f], ts + MINUTE_S, events)


def run_rate_lph(minutes_l: list[float]) -> float:
    """Rate of a draw from its minutes: the first (usually partial) dropped, then a 10-75 % trimmed mean.

    Trimming the top quarter removes ordinary use on top of the leak; trimming the bottom tenth removes
    the partial minute in which a leak started during a draw that was already running.
    """
    vals = sorted(minutes_l[1:] if len(minutes_l) > 2 else minutes_l)
    lo, hi = int(0.1 * len(vals)), max(1, math.ceil(0.75 * len(vals)))
    kept = vals[lo:hi] or vals
    return 60.0 * sum(kept) / len(kept)


def _pairs(series: Mapping[int, float] | Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    if isinstance(series, Mapping):
        return sorted(series.items())
    items = []
    for i, item in enumerate(series):
        try:
            ts, litres = item
        except (TypeError, ValueError) as err:
            raise ValueError(f"series item {i} must be a (ts_s, litres) pair, got {item!r}") from err
        items.append((ts, litres))
    items.sort(key=lambda p: p[0])
    return items


def detect_series(meter_id: str, series: Mapping[int, float] | Iterable[tuple[int, float]],
                  config: LeakConfig | None = None) -> list[LeakAlert]:
    """Run a fresh detector over a whole series; return each alert in its final state, oldest first."""
    det = LeakDetector(config)
    alerts: dict[str, LeakAlert] = {}
    for ts, litres in _pairs(series):
        for ev in det.update(meter_id, ts, litres):
            alerts[ev.alert.alert_id] = ev.alert
    return sorted(alerts.values(), key=lambda a: a.detected_at)
