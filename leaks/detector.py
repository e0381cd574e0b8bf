"""Streaming leak detector: per-meter state fed one minute at a time, serialisable across restarts."""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace

from leaks import rules
from leaks.config import LeakConfig
from leaks.model import (
    BURST,
    RULE_CONTINUOUS,
    RULE_DRIPPING,
    RULE_FAST,
    RULE_LONG_DRAW,
    RULE_NIGHT_FLOOR,
    RULE_SUSTAINED,
    RULE_TOILET,
    RUNNING_TOILET,
    LeakAlert,
    LeakEvent,
    UsageNotice,
)
from leaks.rules import Finding

STATE_VERSION = 2
MINUTE_S = 60
HOUR_S = 3600
DAY_S = 86400
RING_MIN = 180  # the last three hours, minute by minute: hour-long and 3-hour blocks slide over it
KEEP_H = 74  # hourly records kept: the longest window (72 h) and a little
# Up to this many lost readings: the next one's volume is spread over them (exact for a steady flow).
SPREAD_GAP_MIN = 5
# A minute is "dry" at a level when it carried less than that; the ends of long dry stretches date a leak.
DRY_LEVELS_LPM = (0.002, 0.02, 0.1, 0.5)
DRY_KEEP = 12
HABITS_KEEP = 32
HABIT_SEEN, HABIT_CONFIRMED, HABIT_ALERTED = 0, 1, 2  # how a long draw came to be remembered
# Whose rate to trust, best first: counted refills, then the longest window of hours.
RATE_AUTHORITY = (RULE_TOILET, RULE_CONTINUOUS, RULE_LONG_DRAW, RULE_NIGHT_FLOOR, RULE_DRIPPING)
REFILL_HISTORY = 192  # short refill-like draws remembered (any time of day), to date a running toilet
MAX_PENDING_NOTICES = 10_000
PROGRESS_EVERY_S = HOUR_S  # an open alert's litres lost so far are re-sent (silently) this often
_INF = float("inf")


def _f32() -> array:
    return array("f")


@dataclass(slots=True)
class MeterState:
    """Everything the detector remembers about one meter; plain data so it can be saved."""

    last_ts: int | None = None
    first_ts: int | None = None
    # Pulse size: the smallest volume a minute carried, and how many minutes were not a multiple of it.
    quantum_l: float = 0.0
    offgrid: int = 0
    # The last RING_MIN minutes (missing minutes are 0) and the sums of the newest 60 and 180.
    ring: array = field(default_factory=lambda: array("f", bytes(4 * RING_MIN)))
    ring_i: int = 0
    ring_n: int = 0
    sum60: float = 0.0
    sum180: float = 0.0
    # The hour being filled: volume, minutes with data, least hour-long and 3-hour block ending in it.
    hk: int | None = None
    h_vol: float = 0.0
    h_present: int = 0
    h_f60: float = _INF
    h_f180: float = _INF
    h_f180_ts: int = 0
    # Closed hours, oldest first; hours_first is the key of hours[0].
    hours_first: int = 0
    hours: array = field(default_factory=_f32)
    present: array = field(default_factory=lambda: array("B"))
    f60: array = field(default_factory=_f32)
    bg_since: int = 0  # background windows start at this hour key (after a resolved leak or a long gap)
    night_baseline: list[float] = field(default_factory=list)
    # Dry stretches per level: the current one, and the ends and lengths of the last long ones
    # (an older stretch no longer than a newer one is dropped: it can never be the answer).
    dry_len: list[int] = field(default_factory=lambda: [0] * len(DRY_LEVELS_LPM))
    dry_ends: list[array] = field(
        default_factory=lambda: [array("q") for _ in DRY_LEVELS_LPM]
    )  # end, len, ...
    # Running-toilet refills of the current night.
    night_id: int | None = None
    night_refills: array = field(
        default_factory=lambda: array("d")
    )  # start_s, litres, night before, peak, ...
    night_vol_l: float = 0.0
    rf_night_l: float = 0.0
    rf_start_s: int = 0
    rf_minutes: int = 0
    rf_vol_l: float = 0.0
    rf_peak_l: float = 0.0
    # Every short refill-like draw (any time), as start minute and litres: dates a running toilet.
    rf_hist_min: array = field(default_factory=lambda: array("i"))
    rf_hist_ml: array = field(default_factory=lambda: array("H"))  # refills are at most 12 L: 2 bytes
    # Burst runs: consecutive usable minutes at or above the burst flows.
    hi_n: int = 0
    fast_n: int = 0
    # The current draw (consecutive minutes at draw_min_lpm or more, short dips bridged).
    run_start_s: int = 0
    run_n: int = 0
    run_dips: int = 0
    run_vol_l: float = 0.0
    run_alerted: bool = False
    # Long draws of the last habit_days: [start_s, local minute of day, minutes, L/min, HABIT_* flag].
    habits: array = field(default_factory=lambda: array("d"))
    bg_alert: LeakAlert | None = None
    bg_rate_rule: str = ""
    bg_period_min: float = 0.0
    bg_allow_lph: float = 0.0  # continuous use the resident confirmed as theirs
    burst_alert: LeakAlert | None = None
    burst_vol_l: float = 0.0
    notice: UsageNotice | None = None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        data = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, array):
                v = v.tolist()
            elif isinstance(v, LeakAlert | UsageNotice):
                v = v.to_dict()
            elif isinstance(v, list):
                v = [x.tolist() if isinstance(x, array) else x for x in v]
            data[f.name] = v
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> MeterState:
        """Inverse of to_dict; refuses unknown or missing keys by name."""
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - known), sorted(known - set(data))
        if unknown or missing:
            raise ValueError(f"bad meter state: unknown keys {unknown}, missing keys {missing}")
        st = cls()
        for name in known:
            v = data[name]
            cur = getattr(st, name)
            if isinstance(cur, array):
                v = array(cur.typecode, v)
                if name == "ring" and len(v) != RING_MIN:
                    raise ValueError(f"bad meter state: ring must hold {RING_MIN} minutes")
            elif name == "dry_ends":
                v = [array("q", x) for x in v]
            elif name in ("bg_alert", "burst_alert") and v is not None:
                v = LeakAlert.from_dict(v)
            elif name == "notice" and v is not None:
                v = UsageNotice.from_dict(v)
            setattr(st, name, v)
        return st


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
    """Feed it each meter's litres per minute; it returns open/update/progress/resolve events.

    One leak is one alert. Long draws with no precedent are collected as notices (`drain_notices`),
    not alerts; `confirm_use` teaches the detector that a draw or a flow was the resident's own.
    """

    def __init__(self, config: LeakConfig | None = None):
        self.config = config or LeakConfig()
        self._meters: dict[str, MeterState] = {}
        self._notices: list[UsageNotice] = []
        cfg = self.config
        self._burst_floor = cfg.burst_minute_floor * cfg.burst_min_lpm

    # ---- public API -------------------------------------------------------------------------------------

    def update(self, meter_id: str, minute_ts_s: int, litres: float) -> list[LeakEvent]:
        """Take the litres of the minute starting at minute_ts_s; return the alert events it caused."""
        ts, litres = _check_minute(meter_id, minute_ts_s, litres)
        st = self._meters.get(meter_id)
        if st is None:
            st = self._meters[meter_id] = MeterState()
        if st.last_ts is not None and ts <= st.last_ts:
            raise ValueError(
                f"meter {meter_id}: minute {ts} is not after the last one received ({st.last_ts})"
            )
        events: list[LeakEvent] = []
        if litres > 0.0:
            _learn_quantum(st, litres)
        if st.last_ts is None:
            st.first_ts = ts
            self._minute(meter_id, st, ts, litres, False, events)
        else:
            missing = (ts - st.last_ts) // MINUTE_S - 1
            if missing == 0:
                self._minute(meter_id, st, ts, litres, True, events)
            elif missing <= SPREAD_GAP_MIN:
                # A reading or two lost: the register caught up, so the volume belongs to these minutes.
                share = litres / (missing + 1)
                for k in range(missing, -1, -1):
                    self._minute(meter_id, st, ts - k * MINUTE_S, share, True, events)
            else:
                self._gap(meter_id, st, ts, missing, events)
                # The first minute after a gap carries the gap's volume from unknown times: it counts nowhere.
                self._minute(meter_id, st, ts, litres, False, events)
        st.last_ts = ts
        return events

    def drain_notices(self) -> list[UsageNotice]:
        """Unusual-use notices (opened or ended) since the last call, oldest first."""
        out, self._notices = self._notices, []
        return out

    def _notice(self, notice: UsageNotice) -> None:
        # A caller that never drains them must not grow without bound: the oldest go first.
        if len(self._notices) >= MAX_PENDING_NOTICES:
            del self._notices[: MAX_PENDING_NOTICES // 10]
        self._notices.append(notice)

    def open_alerts(self, meter_id: str) -> list[LeakAlert]:
        """The meter's alerts that are open now."""
        st = self._meters.get(meter_id)
        if st is None:
            return []
        return [a for a in (st.bg_alert, st.burst_alert) if a is not None]

    def meter_count(self) -> int:
        """Meters with state."""
        return len(self._meters)

    def confirm_use(
        self, meter_id: str, start_s: int, end_s: int | None = None, rate_lph: float | None = None
    ) -> list[LeakEvent]:
        """The resident says the water from start_s (to end_s) was theirs: learn it, close what it opened.

        A confirmed draw becomes a habit (a precedent for notices and a schedule for the burst rule); a
        confirmed background flow raises this meter's allowance for steady use by 1.3 x its rate.
        """
        st = self._meters.get(meter_id)
        if st is None or st.last_ts is None:
            return []
        events: list[LeakEvent] = []
        now_s = st.last_ts + MINUTE_S
        stop_s = end_s if end_s is not None else now_s
        burst = st.burst_alert
        if burst is not None and burst.started_at <= stop_s and start_s <= now_s:
            rate = rate_lph or burst.rate_lph
            self._learn(
                st,
                burst.started_at,
                max(1, (stop_s - burst.started_at) // MINUTE_S),
                rate / 60.0,
                HABIT_CONFIRMED,
            )
            self._resolve_burst(st, now_s, now_s, events, confirmed=True)
            st.run_alerted = True
        elif st.bg_alert is not None and st.bg_alert.started_at <= stop_s:
            rate = rate_lph or st.bg_alert.rate_lph
            st.bg_allow_lph = max(st.bg_allow_lph, 1.3 * rate)
            self._resolve_bg(st, now_s, now_s, events, confirmed=True)
        else:
            minutes = max(1, (stop_s - start_s) // MINUTE_S)
            rate_lpm = (rate_lph / 60.0) if rate_lph else (st.run_vol_l / max(1, st.run_n))
            self._learn(st, start_s, minutes, rate_lpm, HABIT_CONFIRMED)
        return events

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

    # ---- one minute -------------------------------------------------------------------------------------

    def _gap(self, meter_id: str, st: MeterState, ts: int, missing: int, events: list[LeakEvent]) -> None:
        """Minutes that never arrived: nothing is known, so they count as 0 and end every run."""
        if missing >= RING_MIN:
            first_missing = ts - missing * MINUTE_S
            self._end_dry(st, first_missing)
            self._end_run(meter_id, st, first_missing)
            st.hi_n = st.fast_n = st.rf_minutes = 0
            st.ring = array("f", bytes(4 * RING_MIN))
            st.ring_i = st.ring_n = 0
            st.sum60 = st.sum180 = 0.0
            self._roll_hour(meter_id, st, ts - MINUTE_S, events)
            return
        for k in range(missing, 0, -1):
            self._minute(meter_id, st, ts - k * MINUTE_S, 0.0, False, events)

    def _minute(
        self, meter_id: str, st: MeterState, ts: int, v: float, usable: bool, events: list[LeakEvent]
    ) -> None:
        cfg = self.config
        off = cfg.offset_s(ts)
        hk = (ts + off % HOUR_S) // HOUR_S
        if hk != st.hk:
            self._roll_hour(meter_id, st, ts, events)
        ring = st.ring
        i = st.ring_i
        leave60 = ring[i - 60]  # negative indexes wrap: the minute now 60 minutes old
        leave180 = ring[i]
        ring[i] = v if usable else 0.0
        vq = ring[i]  # as stored (float32), so the sums stay exact differences of the ring
        st.ring_i = i + 1 if i + 1 < RING_MIN else 0
        st.sum60 += vq - leave60
        st.sum180 += vq - leave180
        if st.ring_n < RING_MIN:
            st.ring_n += 1
        if usable:
            st.h_vol += v
            st.h_present += 1
        if st.ring_n >= 60 and st.sum60 < st.h_f60:
            st.h_f60 = st.sum60
        if st.ring_n >= RING_MIN and st.sum180 < st.h_f180:
            st.h_f180 = st.sum180
            st.h_f180_ts = ts
        if not usable:
            self._end_dry(st, ts)
            st.hi_n = st.fast_n = 0
            if st.run_n:
                st.run_dips += 1
                if st.run_dips > cfg.draw_gap_minutes:
                    self._end_run(meter_id, st, ts - (st.run_dips - 1) * MINUTE_S)
            st.rf_minutes = 0  # a refill cut by missing data is not evidence of anything
            return
        self._dry(st, ts, v)
        self._minute_burst(meter_id, st, ts, v, events)
        if st.burst_alert is None:
            self._minute_toilet(meter_id, st, ts, v, off, events)

    # ---- dry stretches: when did the flow start? -----------------------------------------------------

    def _dry(self, st: MeterState, ts: int, v: float) -> None:
        lens = st.dry_len
        for k, level in enumerate(DRY_LEVELS_LPM):
            if v < level:
                lens[k] += 1
            elif lens[k]:
                _push_dry(st.dry_ends[k], ts, lens[k])
                lens[k] = 0

    def _end_dry(self, st: MeterState, ts: int) -> None:
        for k in range(len(DRY_LEVELS_LPM)):
            if st.dry_len[k]:
                _push_dry(st.dry_ends[k], ts, st.dry_len[k])
                st.dry_len[k] = 0

    def _quantum(self, st: MeterState) -> float:
        """The meter's pulse size in litres, or 0 when its minutes are not whole pulses (exact data)."""
        return st.quantum_l if st.offgrid < 3 and st.quantum_l >= 0.05 else 0.0

    def _leak_start(self, st: MeterState, now_s: int, finding: Finding) -> int:
        """When the leak began: a running toilet's refills traced back, or the end of the last dry
        stretch too long for a steady leak of this rate."""
        if finding.kind == RUNNING_TOILET and finding.period_min > 0 and "first_refill_s" in finding.evidence:
            return self._refills_start(st, finding)
        level, need_min = self._pause(st, finding, for_start=True)
        floor_s = st.first_ts if st.first_ts is not None else now_s
        ends = st.dry_ends[level]
        for i in range(len(ends) - 2, -1, -2):
            end_s, length = ends[i], ends[i + 1]
            if length >= need_min:
                return max(end_s, floor_s)
        return floor_s

    def _pause(self, st: MeterState, finding: Finding, for_start: bool = False) -> tuple[int, float]:
        """(dry level, minutes): a stretch that dry and that long cannot hold this leak.

        The least rate the evidence allows gives the longest pause: none on exact data (every minute
        carries the leak), the interval between pulses on a pulse meter, a period for refills.
        """
        rate_lph = finding.floor_lph if finding.floor_lph > 0 else finding.rate_lph
        rate_lpm = max(rate_lph, 1e-6) / 60.0
        q = self._quantum(st)
        if finding.period_min > 0:
            return 0, 1.5 * finding.period_min + 2
        if q > 0:
            return 0, 1.5 * q / rate_lpm + 2
        level = 0
        for k, lv in enumerate(DRY_LEVELS_LPM):
            if lv <= 0.5 * rate_lpm:
                level = k
        return level, 2 if for_start else 5

    def _steady_since(self, st: MeterState, finding: Finding, since_s: int) -> bool:
        """No pause since since_s too long for this leak: busy households leave dry minutes between
        draws, which a leak never does (and on a pulse meter, pauses longer than its pulse interval)."""
        level, need_min = self._pause(st, finding)
        if st.dry_len[level] >= need_min:
            return False
        ends = st.dry_ends[level]
        for i in range(0, len(ends), 2):
            end_s, length = ends[i], ends[i + 1]
            if end_s >= since_s:
                return length < need_min
        return True

    def _refills_start(self, st: MeterState, finding: Finding) -> int:
        """The first refill of a running toilet: step back one period at a time through the refills seen
        (any time of day) while one of the same volume sits where the next is due; draws may hide a few."""
        period_s = finding.period_min * MINUTE_S
        vol = float(finding.evidence.get("refill_l", 0.0))
        q = self._quantum(st)
        tol_l = max(0.15 * vol, 0.3, 1.01 * q)
        tol_s = max(0.05 * period_s, 2 * MINUTE_S)
        times, vols_ml = st.rf_hist_min, st.rf_hist_ml
        first = int(finding.evidence["first_refill_s"])
        t, found = float(first), first
        misses_allowed = max(3, int(4 * HOUR_S // period_s))
        misses = 0
        pending: int | None = None  # a match after misses counts only if the next one matches too
        j = len(times) - 1
        while misses <= misses_allowed:
            due = t - period_s
            best = None
            while j >= 0 and times[j] * MINUTE_S > due + tol_s:
                j -= 1
            k = j
            while k >= 0 and times[k] * MINUTE_S >= due - tol_s:
                if abs(vols_ml[k] / 1000.0 - vol) <= tol_l:
                    best = k
                    break
                k -= 1
            if best is None:
                misses += 1 + (pending is not None)
                t, pending = due, None
                if j < 0:
                    break
                continue
            at = times[best] * MINUTE_S
            if misses and pending is None:
                pending = at
            else:
                found, pending, misses = at, None, 0
            t, j = float(at), best - 1
        return found

    # ---- hours: continuous flow, night floor, dripping ---------------------------------------------------

    def _roll_hour(self, meter_id: str, st: MeterState, ts: int, events: list[LeakEvent]) -> None:
        cfg = self.config
        hk = (ts + cfg.offset_s(ts) % HOUR_S) // HOUR_S
        if st.hk is None:
            st.hk = st.hours_first = st.bg_since = hk
            return
        self._close_hour(meter_id, st, st.hk, st.h_vol, st.h_present, st.h_f60, st.h_f180, events)
        missing = hk - st.hk - 1
        if missing > KEEP_H:
            st.hours, st.present, st.f60 = _f32(), array("B"), _f32()
            st.hours_first = st.bg_since = hk
        else:
            for k in range(missing):
                self._close_hour(meter_id, st, st.hk + 1 + k, 0.0, 0, 0.0, 0.0, events)
        st.hk = hk
        st.h_vol, st.h_present, st.h_f60, st.h_f180 = 0.0, 0, _INF, _INF
        # Recompute the sliding sums from the ring once an hour (no drift from float additions).
        ring, i = st.ring, st.ring_i
        st.sum180 = float(sum(ring))
        st.sum60 = float(sum(ring[(i - 60 + k) % RING_MIN] for k in range(60)))

    def _close_hour(
        self,
        meter_id: str,
        st: MeterState,
        hk: int,
        vol_l: float,
        present: int,
        f60: float,
        f180: float,
        events: list[LeakEvent],
    ) -> None:
        cfg = self.config
        st.hours.append(vol_l)
        st.present.append(present)
        st.f60.append(f60 if f60 != _INF else 0.0)
        if len(st.hours) > KEEP_H + 6:
            cut = len(st.hours) - KEEP_H
            del st.hours[:cut], st.present[:cut], st.f60[:cut]
            st.hours_first += cut
        end_s = self._hour_end_s(hk)
        bg = st.bg_alert
        if bg is not None:
            quiet = present == MINUTE_S and f180 != _INF and f180 < cfg.resolve_fraction * 3 * bg.rate_lph
            if quiet:
                self._resolve_bg(
                    st, max(bg.started_at, st.h_f180_ts - (RING_MIN - 1) * MINUTE_S), end_s, events
                )
                st.bg_since = hk + 1
                return
            if end_s - bg.updated_at >= PROGRESS_EVERY_S:
                st.bg_alert = self._progress(bg, end_s)
                events.append(LeakEvent("progress", st.bg_alert))
        burst = st.burst_alert
        if burst is not None:
            if end_s - burst.updated_at >= PROGRESS_EVERY_S:
                st.burst_alert = replace(burst, updated_at=end_s, volume_l=round(st.burst_vol_l, 3))
                events.append(LeakEvent("progress", st.burst_alert))
            return  # the burst's own flow would look like a background leak
        avail_h = hk - st.bg_since + 1
        have_h = len(st.hours)
        q = self._quantum(st)
        found: list[Finding] = []
        allow = st.bg_allow_lph
        w = cfg.continuous_window_h
        if avail_h >= w and have_h >= w:
            f = rules.continuous_flow(cfg, _minus(st.f60[-w:], allow), _minus(st.hours[-w:], allow), q)
            if f:
                found.append(f)
        w = cfg.drip_window_h
        if avail_h >= w and have_h >= w:
            f = rules.dripping(cfg, _minus(st.f60[-w:], allow), _minus(st.hours[-24:], allow), q)
            if f:
                found.append(f)
        nh = cfg.night_hours
        local_h = ((end_s + cfg.offset_s(end_s - 1)) // HOUR_S) % 24
        if local_h == cfg.night_end_h and avail_h >= nh and have_h >= nh:
            # Hour-long blocks wholly inside the night end in its second hour or later.
            floor_l = min(st.f60[-(nh - 1) :]) - allow
            f = None
            if len(st.night_baseline) >= cfg.night_min_baseline_nights:
                f = rules.night_floor(
                    cfg, floor_l, _minus(st.hours[-nh:], allow), statistics.median(st.night_baseline), q
                )
            if f:
                found.append(f)
            elif st.bg_alert is None and all(p == MINUTE_S for p in st.present[-nh:]):
                # Only whole nights without a leak teach the baseline: a gap would pull it down.
                st.night_baseline.append(round(max(0.0, floor_l), 4))
                del st.night_baseline[: -cfg.night_baseline_nights]
        found = [
            f
            for f in found
            if self._steady_since(
                st,
                f,
                end_s
                - HOUR_S
                * (
                    nh - 1
                    if f.rule == RULE_NIGHT_FLOOR
                    else cfg.drip_window_h
                    if f.rule == RULE_DRIPPING
                    else cfg.continuous_window_h
                ),
            )
        ]
        if found:
            self._background(meter_id, st, found, end_s, events)

    def _hour_end_s(self, hk: int) -> int:
        end = (hk + 1) * HOUR_S
        return end - self.config.offset_s(end - HOUR_S) % HOUR_S

    # ---- background alert lifecycle ----------------------------------------------------------------------

    def _signature_kind(self, st: MeterState, finding: Finding) -> str:
        """Refills or steady flow, from the last three hours of minutes: a crew fixes them differently.

        A steady leak wets every minute (exact data) or arrives as single pulses; a cistern refills in
        a few minutes that carry litres each (two pulses or more), with dry minutes between.
        """
        if finding.kind == RUNNING_TOILET or st.ring_n < RING_MIN:
            return finding.kind
        if self._quantum(st) > 0:
            return finding.kind  # whole pulses blur the difference; the refill rule decides those
        wet = [v for v in st.ring if v >= 0.25 * finding.rate_lph / 60.0]
        if wet and min(wet) >= self.config.toilet_refill_min_l and len(wet) < 0.5 * RING_MIN:
            return RUNNING_TOILET
        return finding.kind

    def _background(
        self,
        meter_id: str,
        st: MeterState,
        found: list[Finding],
        now_s: int,
        events: list[LeakEvent],
        start_s: int | None = None,
    ) -> None:
        best = min(found, key=lambda f: RATE_AUTHORITY.index(f.rule))
        best = replace(best, kind=self._signature_kind(st, best))
        rules_now = [f.rule for f in found]
        bg = st.bg_alert
        if bg is None:
            if start_s is None:
                start_s = self._leak_start(st, now_s, best)
            start_s = min(start_s, now_s)
            best = self._rate_since(st, best, start_s)
            evidence = dict(best.evidence, rules=rules_now)
            st.bg_alert = LeakAlert(
                meter_id,
                best.kind,
                start_s,
                now_s,
                round(best.rate_lph, 3),
                best.confidence,
                evidence,
                "open",
                now_s,
                rule=best.rule,
                volume_l=_litres(best.rate_lph, start_s, now_s),
            )
            st.bg_rate_rule, st.bg_period_min = best.rule, best.period_min
            events.append(LeakEvent("open", st.bg_alert))
            return
        new_rules = [r for r in rules_now if r not in bg.evidence.get("rules", [])]
        rate, kind, start_s = bg.rate_lph, bg.kind, bg.started_at
        changed = False
        if RATE_AUTHORITY.index(best.rule) <= RATE_AUTHORITY.index(st.bg_rate_rule):
            moved = abs(best.rate_lph - bg.rate_lph) > self.config.update_rate_change * bg.rate_lph
            if moved or best.rule != st.bg_rate_rule:
                rate, st.bg_rate_rule = round(best.rate_lph, 3), best.rule
                changed = moved
            if best.kind != kind:
                kind, changed = best.kind, True
                st.bg_period_min = best.period_min
                start_s = min(start_s, self._leak_start(st, now_s, best))
        if changed or new_rules:
            evidence = dict(bg.evidence)
            for f in found:
                evidence.update(f.evidence)
            evidence["rules"] = list(bg.evidence.get("rules", [])) + new_rules
            evidence["rate_from"] = st.bg_rate_rule
            st.bg_alert = replace(
                bg,
                kind=kind,
                rate_lph=rate,
                started_at=start_s,
                evidence=evidence,
                updated_at=now_s,
                volume_l=_litres(rate, start_s, now_s),
                confidence=max(bg.confidence, *(f.confidence for f in found)),
            )
            # Only a change a crew cares about is an event: the rate or the kind. New agreeing rules are
            # kept, and go out with the next progress.
            if changed:
                events.append(LeakEvent("update", st.bg_alert))

    def _rate_since(self, st: MeterState, finding: Finding, start_s: int) -> Finding:
        """An hourly rule's rate measured only over the hours after the leak began (not the quiet ones
        before it, which a 24 h window or a night window may still hold)."""
        if finding.rule not in (RULE_CONTINUOUS, RULE_NIGHT_FLOOR, RULE_DRIPPING) or st.hk is None:
            return finding
        cfg = self.config
        first = (start_s + cfg.offset_s(start_s) % HOUR_S) // HOUR_S + 2  # blocks wholly after the start
        n = st.hk - max(first, st.hours_first)
        if n < 1:
            return finding
        floor = min(st.f60[-n:]) - st.bg_allow_lph
        base = 0.0
        if finding.rule == RULE_NIGHT_FLOOR and st.night_baseline:
            base = statistics.median(st.night_baseline)
        hours = _minus(st.hours[-n:], st.bg_allow_lph + base)
        rate = rules.leak_rate_lph(floor - base, hours, self._quantum(st))
        if rate <= 0:
            return finding
        kind = finding.kind if finding.kind == RUNNING_TOILET else rules.steady_kind(cfg, rate)
        return replace(finding, rate_lph=rate, kind=kind)

    def _progress(self, alert: LeakAlert, now_s: int) -> LeakAlert:
        return replace(alert, updated_at=now_s, volume_l=_litres(alert.rate_lph, alert.started_at, now_s))

    def _resolve_bg(
        self, st: MeterState, stopped_s: int, now_s: int, events: list[LeakEvent], confirmed: bool = False
    ) -> None:
        alert = st.bg_alert
        assert alert is not None
        stopped_s = max(alert.started_at, min(stopped_s, now_s))
        events.append(
            _resolved(
                alert, stopped_s, now_s, _litres(alert.rate_lph, alert.started_at, stopped_s), confirmed
            )
        )
        st.bg_alert = None

    def _resolve_burst(
        self, st: MeterState, stopped_s: int, now_s: int, events: list[LeakEvent], confirmed: bool = False
    ) -> None:
        alert = st.burst_alert
        assert alert is not None
        events.append(
            _resolved(alert, max(alert.started_at, stopped_s), now_s, round(st.burst_vol_l, 3), confirmed)
        )
        st.burst_alert = None

    # ---- minutes: draws, bursts and notices ----------------------------------------------------------------

    def _minute_burst(
        self, meter_id: str, st: MeterState, ts: int, v: float, events: list[LeakEvent]
    ) -> None:
        cfg = self.config
        st.hi_n = st.hi_n + 1 if v >= self._burst_floor else 0
        st.fast_n = st.fast_n + 1 if v >= cfg.burst_fast_lpm else 0
        if v >= cfg.draw_min_lpm:
            if st.run_n == 0:
                st.run_start_s, st.run_vol_l, st.run_alerted = self._draw_start(st, ts, v), 0.0, False
            st.run_n += 1 + st.run_dips
            st.run_dips = 0
            st.run_vol_l += v
        elif st.run_n:
            st.run_dips += 1
            st.run_vol_l += v
            if st.run_dips > cfg.draw_gap_minutes:
                self._end_run(meter_id, st, ts - (st.run_dips - 1) * MINUTE_S)
        now_s = ts + MINUTE_S
        alert = st.burst_alert
        if alert is not None:
            if v * 60.0 < cfg.resolve_fraction * alert.rate_lph:
                # Stopped within this minute: the part of it that still flowed at the burst's rate.
                self._resolve_burst(
                    st, ts + round(MINUTE_S * min(1.0, v * 60.0 / alert.rate_lph)), now_s, events
                )
                st.bg_since = (ts + cfg.offset_s(ts) % HOUR_S) // HOUR_S + 1
                return
            st.burst_vol_l += v
            rate = self._draw_rate_lph(st, min(st.run_n, 30))
            if abs(rate - alert.rate_lph) > cfg.update_rate_change * alert.rate_lph:
                st.burst_alert = replace(
                    alert, rate_lph=round(rate, 3), updated_at=now_s, volume_l=round(st.burst_vol_l, 3)
                )
                events.append(LeakEvent("update", st.burst_alert))
            return
        if st.run_alerted or st.run_n == 0:
            return
        finding: tuple[str, int, float] | None = None  # rule, start, confidence
        n = cfg.burst_min_minutes
        if st.fast_n >= cfg.burst_fast_minutes:
            finding = (RULE_FAST, self._window_start(st, ts, st.fast_n), 0.95)
        elif st.hi_n >= n and self._recent_sum(st, n) >= n * cfg.burst_min_lpm:
            if not self._scheduled(st, ts):
                finding = (RULE_SUSTAINED, self._window_start(st, ts, st.hi_n), 0.9)
        if finding is None and st.run_n >= cfg.notice_min_minutes:
            rate_lpm = st.run_vol_l / st.run_n
            longest = self._longest_similar(st, rate_lpm)
            if st.run_n >= max(cfg.long_draw_leak_h * 60, cfg.long_draw_factor * longest):
                rate = self._run_floor_lph(st)
                if rate < cfg.continuous_max_lph:
                    if st.bg_alert is None:
                        # A steady flow that never stops: a continuous leak, dated from the draw's start.
                        f = Finding(
                            RULE_LONG_DRAW,
                            rules.steady_kind(cfg, rate),
                            rate,
                            0.7,
                            {"minutes": st.run_n, "draw_l": round(st.run_vol_l, 3)},
                        )
                        self._background(meter_id, st, [f], now_s, events, start_s=st.run_start_s)
                    return
                finding = (RULE_LONG_DRAW, st.run_start_s, 0.7)
            elif (
                st.notice is None
                and st.run_vol_l >= cfg.notice_min_l
                and longest < cfg.habit_duration_share * st.run_n
            ):
                st.notice = UsageNotice(
                    meter_id, st.run_start_s, now_s, round(rate_lpm * 60, 3), round(st.run_vol_l, 3), st.run_n
                )
                self._notice(st.notice)
        if finding is None:
            return
        rule, start_s, confidence = finding
        minutes = max(1, (now_s - start_s) // MINUTE_S)
        rate = self._draw_rate_lph(st, min(minutes, st.run_n))
        st.burst_vol_l = self._volume_since(st, ts, start_s)
        evidence = {"rules": [rule], "minutes": minutes, "draw_l": round(st.run_vol_l, 3)}
        st.burst_alert = LeakAlert(
            meter_id,
            BURST,
            start_s,
            now_s,
            round(rate, 3),
            confidence,
            evidence,
            "open",
            now_s,
            rule=rule,
            volume_l=round(st.burst_vol_l, 3),
        )
        st.run_alerted = True
        if st.notice is not None:
            self._notice(replace(st.notice, status="escalated"))
            st.notice = None
        events.append(LeakEvent("open", st.burst_alert))

    def _draw_start(self, st: MeterState, ts: int, v: float) -> int:
        """Start of a draw whose first full minute is ts (in the minute before if that one carried some)."""
        prev = st.ring[st.ring_i - 2]  # the minute before ts (ts itself is already in the ring)
        if 0.0 < prev < v:
            return ts - round(MINUTE_S * prev / v)
        return ts

    def _window_start(self, st: MeterState, ts: int, minutes: int) -> int:
        """Start of a run of `minutes` high minutes ending with ts (inside the minute before, if partial)."""
        first_s = ts - (minutes - 1) * MINUTE_S
        if minutes >= RING_MIN:
            return first_s
        first, prev = st.ring[st.ring_i - minutes], st.ring[st.ring_i - minutes - 1]
        if 0.0 < prev < first:
            return first_s - round(MINUTE_S * prev / first)
        return first_s

    def _recent_sum(self, st: MeterState, minutes: int) -> float:
        ring, i = st.ring, st.ring_i
        return float(sum(ring[(i - 1 - k) % RING_MIN] for k in range(minutes)))

    def _volume_since(self, st: MeterState, ts: int, start_s: int) -> float:
        """Litres from start_s to the end of minute ts (from the ring, then the draw's total)."""
        minutes = -(-(ts + MINUTE_S - start_s) // MINUTE_S)
        if minutes <= RING_MIN:
            return self._recent_sum(st, minutes)
        return st.run_vol_l

    def _draw_rate_lph(self, st: MeterState, minutes: int) -> float:
        """Rate of the newest minutes of a draw: the first (partial) dropped, then a 10-75 % trimmed mean.

        Trimming the top quarter removes ordinary use on top of the leak; trimming the bottom tenth
        removes the partial minute in which a leak started during a draw that was already running.
        """
        minutes = max(1, min(minutes, RING_MIN))
        ring, i = st.ring, st.ring_i
        vals = sorted(ring[(i - 1 - k) % RING_MIN] for k in range(minutes - 1 if minutes > 2 else minutes))
        lo, hi = int(0.1 * len(vals)), max(1, math.ceil(0.75 * len(vals)))
        kept = vals[lo:hi] or vals
        return 60.0 * sum(kept) / len(kept)

    def _run_floor_lph(self, st: MeterState) -> float:
        """A steady flow under a long draw: its quietest hour-long block (use only ever adds to it)."""
        cfg = self.config
        start = st.run_start_s
        first = (start + cfg.offset_s(start) % HOUR_S) // HOUR_S + 2
        n = 0 if st.hk is None else st.hk - max(first, st.hours_first)
        floors = list(st.f60[-n:]) if n > 0 else []
        if st.h_f60 != _INF:
            floors.append(st.h_f60)
        return min(floors) if floors else 60.0 * st.run_vol_l / max(1, st.run_n)

    def _end_run(self, meter_id: str, st: MeterState, stop_s: int) -> None:
        """A draw ended at stop_s: learn it and end its notice.

        A draw that raised an alert is kept apart (HABIT_ALERTED): it never excuses a long draw, but the
        same high flow at the same time on several days is a schedule, not a string of bursts.
        """
        cfg = self.config
        if st.run_n >= cfg.habit_min_minutes and st.burst_alert is None:
            flag = HABIT_ALERTED if st.run_alerted else HABIT_SEEN
            self._learn(st, st.run_start_s, st.run_n, st.run_vol_l / st.run_n, flag)
        if st.notice is not None:
            n = st.notice
            self._notice(
                replace(
                    n,
                    status="ended",
                    stopped_at=stop_s,
                    volume_l=round(st.run_vol_l, 3),
                    minutes=st.run_n,
                    rate_lph=round(60.0 * st.run_vol_l / st.run_n, 3),
                )
            )
            st.notice = None
        st.run_n = st.run_dips = 0
        st.run_vol_l = 0.0

    def _learn(self, st: MeterState, start_s: int, minutes: int, rate_lpm: float, flag: int) -> None:
        cfg = self.config
        tod = ((start_s + cfg.offset_s(start_s)) % DAY_S) // MINUTE_S
        h = st.habits
        h.extend((start_s, tod, minutes, round(rate_lpm, 4), flag))
        horizon = start_s - cfg.habit_days * DAY_S
        drop = 0
        while drop < len(h) and (h[drop] < horizon or len(h) - drop > 5 * HABITS_KEEP):
            drop += 5
        del h[:drop]

    def _longest_similar(self, st: MeterState, rate_lpm: float) -> float:
        """Minutes of the longest past draw at about this rate (0 when none): the household's precedent."""
        tol = self.config.habit_rate_tol
        best = 0.0
        h = st.habits
        for i in range(0, len(h), 5):
            if h[i + 4] != HABIT_ALERTED and abs(h[i + 3] - rate_lpm) <= tol * rate_lpm:
                best = max(best, h[i + 2])
        return best

    def _scheduled(self, st: MeterState, ts: int) -> bool:
        """A high flow that matches a schedule: the same time of day and rate on habit_burst_days days.

        Held back only until it outlasts those draws by a quarter (and 5 minutes).
        """
        cfg = self.config
        if not st.habits:
            return False
        start_s = st.run_start_s
        tod = ((start_s + cfg.offset_s(start_s)) % DAY_S) // MINUTE_S
        rate = self._draw_rate_lph(st, min(st.run_n, cfg.burst_min_minutes)) / 60.0
        days: set[int] = set()
        longest = 0.0
        h = st.habits
        for i in range(0, len(h), 5):
            dt = abs(h[i + 1] - tod)
            if (
                min(dt, 1440 - dt) <= cfg.habit_burst_window_min
                and abs(h[i + 3] - rate) <= cfg.habit_burst_rate_tol * rate
            ):
                days.add(int(h[i]) // DAY_S)
                if h[i + 4] == HABIT_CONFIRMED:
                    days.add(-1 - int(h[i]) // DAY_S)  # a confirmed draw counts twice
                longest = max(longest, h[i + 2])
        return len(days) >= cfg.habit_burst_days and st.run_n <= 1.25 * longest + 5

    # ---- minutes: refills --------------------------------------------------------------------------------

    def _minute_toilet(
        self, meter_id: str, st: MeterState, ts: int, litres: float, off: int, events: list[LeakEvent]
    ) -> None:
        cfg = self.config
        local_s = ts + off
        night_id = (local_s - cfg.night_start_h * HOUR_S) // DAY_S
        if night_id != st.night_id:
            st.night_id, st.night_refills, st.rf_minutes, st.night_vol_l = night_id, array("d"), 0, 0.0
        night_before_l = st.night_vol_l
        st.night_vol_l += litres
        if litres >= cfg.toilet_refill_min_l:
            if st.rf_minutes == 0:
                st.rf_start_s, st.rf_vol_l, st.rf_night_l, st.rf_peak_l = ts, 0.0, night_before_l, 0.0
            st.rf_minutes += 1
            st.rf_vol_l += litres
            st.rf_peak_l = max(st.rf_peak_l, litres)
            return
        if st.rf_minutes == 0:
            return
        minutes, vol_l, start_s = st.rf_minutes, st.rf_vol_l, st.rf_start_s
        st.rf_minutes = 0
        if minutes > cfg.toilet_refill_max_minutes or vol_l > cfg.toilet_refill_max_l:
            return
        st.rf_hist_min.append(start_s // MINUTE_S)
        st.rf_hist_ml.append(min(65535, round(vol_l * 1000)))
        if len(st.rf_hist_min) > REFILL_HISTORY + 32:
            del st.rf_hist_min[:32], st.rf_hist_ml[:32]
        in_night = ((local_s // HOUR_S) % 24 - cfg.night_start_h) % 24 < cfg.night_hours
        since_s = self._hour_end_s(st.bg_since - 1)
        if not (in_night and start_s >= since_s):
            return
        st.night_refills.extend((start_s, vol_l, st.rf_night_l, st.rf_peak_l))
        if len(st.night_refills) > 4 * 200:
            del st.night_refills[:4]
        nr = st.night_refills
        refills = [nr[i : i + 4] for i in range(0, len(nr), 4)]
        f = rules.running_toilet(cfg, refills, self._quantum(st))
        if f and f.rate_lph > st.bg_allow_lph:
            self._background(meter_id, st, [f], ts + MINUTE_S, events)


def _learn_quantum(st: MeterState, v: float) -> None:
    """Track the smallest volume a reading carried and whether every volume is a multiple of it."""
    q = st.quantum_l
    if q == 0.0 or v < 0.99 * q:
        st.quantum_l, st.offgrid = v, 0
    elif st.offgrid < 1000:
        r = v / q
        if abs(r - round(r)) > 0.02:
            st.offgrid += 1


def _resolved(alert: LeakAlert, stopped_s: int, now_s: int, volume_l: float, confirmed: bool) -> LeakEvent:
    """The resolve event of an alert that stopped at stopped_s, seen at now_s."""
    evidence = dict(alert.evidence, confirmed_by_resident=True) if confirmed else alert.evidence
    return LeakEvent(
        "resolve",
        replace(
            alert,
            status="resolved",
            resolved_at=now_s,
            updated_at=now_s,
            stopped_at=stopped_s,
            volume_l=volume_l,
            evidence=evidence,
        ),
    )


def _push_dry(ends: array, end_s: int, length: int) -> None:
    """Keep (end, length) pairs whose lengths fall as they get newer: an older, shorter stretch is never
    the latest one long enough for any question."""
    while ends and ends[-1] <= length:
        del ends[-2:]
    ends.extend((end_s, length))
    if len(ends) > 2 * DRY_KEEP:
        del ends[:2]


def _minus(values: Iterable[float], allow: float) -> list[float]:
    if allow <= 0:
        return list(values)
    return [v - allow for v in values]


def _litres(rate_lph: float, start_s: int, end_s: int) -> float:
    return round(rate_lph * max(0, end_s - start_s) / HOUR_S, 3)


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


def detect_series(
    meter_id: str, series: Mapping[int, float] | Iterable[tuple[int, float]], config: LeakConfig | None = None
) -> list[LeakAlert]:
    """Run a fresh detector over a whole series; return each alert in its final state, oldest first."""
    det = LeakDetector(config)
    alerts: dict[str, LeakAlert] = {}
    for ts, litres in _pairs(series):
        for ev in det.update(meter_id, ts, litres):
            alerts[ev.alert.alert_id] = ev.alert
    return sorted(alerts.values(), key=lambda a: a.detected_at)
