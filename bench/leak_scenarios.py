"""Evaluation: simulated households with injected leaks, scored against the issue's goals."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hardware_sim.household import Household, Leak
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from leaks.model import LeakAlert

T0_S = 1_767_225_600  # 2026-01-01 00:00 UTC; households live in UTC, so local midnight is T0
DAY_S = 86400
MATCH_GRACE_S = 2 * 3600  # an alert this long after a leak ended still belongs to it
GOAL_BACKGROUND_LPH = 4.0
GOAL_BACKGROUND_DELAY_S = 26 * 3600
GOAL_BURST_LPM = 20.0
GOAL_BURST_DELAY_S = 20 * 60
GOAL_FALSE_PER_100_WEEKS = 1.0
GOAL_RATE_ERROR = 0.2
GOAL_DETECTED_SHARE = 0.95
TOILET_FILL_LPM = 8.0


@dataclass(frozen=True)
class InjectedLeak:
    """A leak put into a household's minutes: drip and burst are constant; toilet is periodic refills."""

    kind: str  # "drip" | "toilet" | "burst"
    start_s: int  # household seconds (0 = local midnight of day 0)
    end_s: int
    rate_lph: float
    refill_l: float = 0.0
    period_s: float = 0.0

    @property
    def band(self) -> str:
        """Size band for the confusion table."""
        if self.kind == "burst":
            lpm = self.rate_lph / 60.0
            return "<20 L/min" if lpm < 20 else ("20-60 L/min" if lpm < 60 else ">=60 L/min")
        r = self.rate_lph
        return "<4 L/h" if r < 4 else ("4-10 L/h" if r < 10 else ("10-50 L/h" if r < 50 else ">=50 L/h"))


@dataclass(frozen=True)
class Scenario:
    """One household over some days, with at most one injected leak and some missing-data gaps."""

    seed: int
    days: int
    leak: InjectedLeak | None = None
    gaps: tuple[tuple[int, int], ...] = ()  # [start_s, end_s) household seconds with no data

    @property
    def meter_id(self) -> str:
        """Meter name of this household."""
        return f"hh-{self.seed}"


def household_minutes(sc: Scenario, l_per_pulse: float = 0.0) -> np.ndarray:
    """Litres per minute of the scenario, leak included, optionally counted in whole pulses; gaps are NaN."""
    n = sc.days * 1440
    leaks = []
    if sc.leak is not None and sc.leak.kind in ("drip", "burst"):
        leaks.append(Leak(sc.leak.kind, sc.leak.start_s, sc.leak.end_s, sc.leak.rate_lph))
    house = Household(seed=sc.seed, leaks=leaks)
    litres = np.fromiter((house.litres(i * 60, i * 60 + 60) for i in range(n)), dtype=float, count=n)
    if sc.leak is not None and sc.leak.kind == "toilet":
        _add_refills(litres, sc.leak)
    if l_per_pulse > 0:
        # A pulse meter reports whole pulses: the register total is floored, each minute gets its increase.
        pulses = np.floor(np.cumsum(litres) / l_per_pulse + 1e-9)
        litres = np.diff(pulses, prepend=0.0) * l_per_pulse
    for g0, g1 in sc.gaps:
        litres[max(0, g0 // 60) : min(n, -(-g1 // 60))] = np.nan
    return litres


def _add_refills(litres: np.ndarray, leak: InjectedLeak) -> None:
    fill_s = leak.refill_l / TOILET_FILL_LPM * 60.0
    t = float(leak.start_s)
    while t < leak.end_s:
        a, b = t, t + fill_s
        m = int(a // 60)
        while a < b and m < len(litres):
            seg = min(b, (m + 1) * 60.0) - a
            litres[m] += TOILET_FILL_LPM * seg / 60.0
            a += seg
            m += 1
        t += leak.period_s


def run_scenario(sc: Scenario, config: LeakConfig | None = None, l_per_pulse: float = 0.0) -> list[LeakAlert]:
    """Every alert the streaming detector opened, as first opened (rate at detection), with final status."""
    det = LeakDetector(config)
    meter = sc.meter_id
    opened: dict[str, LeakAlert] = {}
    final: dict[str, LeakAlert] = {}
    update = det.update
    for i, v in enumerate(household_minutes(sc, l_per_pulse).tolist()):
        if v != v:  # NaN: missing minute
            continue
        for ev in update(meter, T0_S + 60 * i, v):
            aid = ev.alert.alert_id
            if ev.kind == "open":
                opened[aid] = ev.alert
            final[aid] = ev.alert
    return [
        LeakAlert(**{**a.to_dict(), "status": final[aid].status, "resolved_at": final[aid].resolved_at})
        for aid, a in opened.items()
    ]


def _gaps(rng: random.Random, days: int, share: float) -> tuple[tuple[int, int], ...]:
    if rng.random() >= share:
        return ()
    out = []
    for _ in range(rng.randint(1, 3)):
        length_s = int(math.exp(rng.uniform(math.log(120), math.log(12 * 3600))))
        start = rng.randrange(0, days * DAY_S - length_s)
        out.append((start, start + length_s))
    return tuple(sorted(out))


def _leak(rng: random.Random, kind: str, days: int) -> InjectedLeak:
    end_all = days * DAY_S
    if kind == "burst":
        lpm = math.exp(rng.uniform(math.log(5), math.log(150)))
        start = rng.randrange(2 * DAY_S, end_all - DAY_S)
        return InjectedLeak("burst", start, min(end_all, start + rng.randrange(3600, 8 * 3600)), lpm * 60)
    start = rng.randrange(2 * DAY_S, end_all - 3 * DAY_S)
    end = min(end_all, start + rng.randrange(2 * DAY_S, 7 * DAY_S))
    if kind == "toilet":
        refill_l, period_s = rng.uniform(0.5, 4.0), rng.uniform(5 * 60, 90 * 60)
        return InjectedLeak("toilet", start, end, refill_l * 3600 / period_s, refill_l, period_s)
    return InjectedLeak("drip", start, end, math.exp(rng.uniform(math.log(1), math.log(300))))


def population(
    seed: int, households: int, weeks: int, with_leaks: bool, gap_share: float = 0.1
) -> list[Scenario]:
    """Households (seeded from seed) with one leak each (kinds in turn) or none."""
    rng = random.Random(seed)
    days = weeks * 7
    out = []
    for i in range(households):
        leak = _leak(rng, ("drip", "toilet", "burst")[i % 3], days) if with_leaks else None
        out.append(Scenario(seed * 1_000_003 + i, days, leak, _gaps(rng, days, gap_share)))
    return out


@dataclass
class LeakResult:
    """How the detector did on one injected leak."""

    leak: InjectedLeak
    gap_in_window: bool
    delay_s: int | None = None
    rate_lph: float | None = None
    alert_kind: str | None = None
    resolved: bool = False

    @property
    def rate_error(self) -> float | None:
        """Relative error of the rate estimated at detection."""
        return None if self.rate_lph is None else (self.rate_lph - self.leak.rate_lph) / self.leak.rate_lph


@dataclass
class Report:
    """Scores of one evaluation run."""

    leaks: list[LeakResult] = field(default_factory=list)
    free_household_weeks: float = 0.0
    free_false_alarms: int = 0
    leak_household_weeks: float = 0.0
    leak_unmatched_alerts: int = 0
    false_alarm_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def false_per_100_weeks(self) -> float:
        """False alarms per 100 household-weeks on leak-free households."""
        weeks = self.free_household_weeks
        return 100.0 * self.free_false_alarms / weeks if weeks else 0.0

    def goal_background(self) -> list[LeakResult]:
        """Leaks of at least 4 L/h with data through their first 26 h (the 26 h goal)."""
        return [
            r
            for r in self.leaks
            if r.leak.rate_lph >= GOAL_BACKGROUND_LPH
            and not r.gap_in_window
            and r.leak.end_s - r.leak.start_s >= GOAL_BACKGROUND_DELAY_S
            and (r.leak.kind != "burst" or r.leak.rate_lph >= GOAL_BURST_LPM * 60)
        ]

    def goal_bursts(self) -> list[LeakResult]:
        """Bursts of at least 20 L/min with data through their first 20 minutes."""
        return [
            r
            for r in self.leaks
            if r.leak.kind == "burst" and r.leak.rate_lph >= GOAL_BURST_LPM * 60 and not r.gap_in_window
        ]

    def goals(self) -> dict[str, tuple[float, bool]]:
        """Each goal: (measured figure, met)."""
        bg = self.goal_background()
        bursts = self.goal_bursts()
        bg_share = _share(bg, lambda r: r.delay_s is not None and r.delay_s <= GOAL_BACKGROUND_DELAY_S)
        burst_share = _share(bursts, lambda r: r.delay_s is not None and r.delay_s <= GOAL_BURST_DELAY_S)
        detected = [r for r in bg + bursts if r.rate_error is not None]
        rate_share = _share(detected, lambda r: abs(r.rate_error) <= GOAL_RATE_ERROR)
        return {
            "leaks >= 4 L/h detected within 26 h": (bg_share, bg_share >= GOAL_DETECTED_SHARE),
            "bursts >= 20 L/min detected within 20 min": (burst_share, burst_share == 1.0),
            "false alarms per 100 household-weeks": (
                self.false_per_100_weeks,
                self.false_per_100_weeks <= GOAL_FALSE_PER_100_WEEKS,
            ),
            "detected leaks with rate within +-20 %": (rate_share, rate_share >= GOAL_DETECTED_SHARE),
        }


def _share(items: list, pred: Callable) -> float:
    return sum(1 for x in items if pred(x)) / len(items) if items else float("nan")


def _overlaps_gap(sc: Scenario, t0: int, t1: int) -> bool:
    return any(g0 < t1 and g1 > t0 for g0, g1 in sc.gaps)


def score(
    leak_pop: list[Scenario],
    free_pop: list[Scenario],
    config: LeakConfig | None = None,
    l_per_pulse: float = 0.0,
    run: Callable = run_scenario,
) -> Report:
    """Run the detector on both populations and score it."""
    rep = Report()
    for sc, alerts in zip(free_pop, _run_all(free_pop, config, l_per_pulse, run), strict=True):
        rep.free_household_weeks += sc.days / 7
        rep.free_false_alarms += len(alerts)
        for a in alerts:
            rep.false_alarm_kinds[a.kind] = rep.false_alarm_kinds.get(a.kind, 0) + 1
    for sc, alerts in zip(leak_pop, _run_all(leak_pop, config, l_per_pulse, run), strict=True):
        rep.leak_household_weeks += sc.days / 7
        leak = sc.leak
        if leak is None:
            raise ValueError(f"scenario {sc.meter_id} of the leak population has no leak")
        start_ts, end_ts = T0_S + leak.start_s, T0_S + leak.end_s
        window = GOAL_BURST_DELAY_S if leak.kind == "burst" else GOAL_BACKGROUND_DELAY_S
        res = LeakResult(leak, _overlaps_gap(sc, leak.start_s, leak.start_s + window))
        matched = [a for a in alerts if start_ts <= a.detected_at <= end_ts + MATCH_GRACE_S]
        rep.leak_unmatched_alerts += len(alerts) - len(matched)
        if matched:
            first = min(matched, key=lambda a: a.detected_at)
            res.delay_s = first.detected_at - start_ts
            res.rate_lph, res.alert_kind = first.rate_lph, first.kind
            res.resolved = first.status == "resolved"
        rep.leaks.append(res)
    return rep


def _run_all(pop: list[Scenario], config: LeakConfig | None, l_per_pulse: float, run: Callable) -> list:
    return [run(sc, config, l_per_pulse) for sc in pop]


def confusion_rows(rep: Report) -> list[dict]:
    """One row per leak kind and size band: detected, missed, delays, rate error."""
    groups: dict[tuple[str, str], list[LeakResult]] = {}
    for r in rep.leaks:
        groups.setdefault((r.leak.kind, r.leak.band), []).append(r)
    rows = []
    for (kind, band), rs in sorted(groups.items()):
        hit = [r for r in rs if r.delay_s is not None]
        errs = [abs(r.rate_error) for r in hit if r.rate_error is not None]
        delays_h = sorted(r.delay_s / 3600 for r in hit if r.delay_s is not None)
        rows.append(
            {
                "kind": kind,
                "band": band,
                "leaks": len(rs),
                "detected": len(hit),
                "missed": len(rs) - len(hit),
                "delay_p50_h": statistics.median(delays_h) if delays_h else float("nan"),
                "delay_max_h": delays_h[-1] if delays_h else float("nan"),
                "rate_err_p50": statistics.median(errs) if errs else float("nan"),
                "rate_within_20": sum(1 for e in errs if e <= GOAL_RATE_ERROR),
                "resolved": sum(1 for r in hit if r.resolved),
            }
        )
    return rows
