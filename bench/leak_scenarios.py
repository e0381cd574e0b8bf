"""Evaluation: household kinds (bench.households) with injected leaks, fed to the detector, scored per kind.

A scenario is one household of one kind over some days in its own IANA zone, with at most one leak
(drip, continuous, running toilet or burst), some missing readings, and a meter that reports exact
litres or whole pulses. An alert matches a leak when it opened between the leak's start and 2 h after
its end; any other alert is a false alarm. Seeds: tune on TUNE_SEEDS; tests and the bench use others.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from bench.households import (
    DAY_S,
    KINDS,
    ZONES,
    Draws,
    HouseholdSpec,
    build,
    render_minutes,
    through_header_tank,
)
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from leaks.model import BURST, CONTINUOUS, DRIP, RUNNING_TOILET, LeakAlert, UsageNotice

MATCH_GRACE_S = 2 * 3600  # an alert this long after a leak ended still belongs to it
GOAL_BACKGROUND_LPH = 4.0
GOAL_BACKGROUND_DELAY_S = 26 * 3600
GOAL_BURST_LPM = 20.0
GOAL_BURST_DELAY_S = 20 * 60
GOAL_FALSE_PER_100_WEEKS = 1.0
GOAL_KIND_RIGHT = 0.9
GOAL_START_S = 3600
GOAL_START_SHARE = 0.9
GOAL_VOLUME_ERROR = 0.1
GOAL_RATE_ERROR = 0.2
GOAL_DETECTED_SHARE = 0.95
LEAK_KINDS = ("drip", "continuous", "toilet", "burst")
EXPECTED_KIND = {"drip": DRIP, "continuous": CONTINUOUS, "toilet": RUNNING_TOILET, "burst": BURST}
DRIP_MAX_LPH = 10.0  # the detector's default boundary between a drip and a continuous leak
TUNE_SEEDS = (11, 12, 13, 14)  # thresholds were tuned on these populations only


@dataclass(frozen=True)
class InjectedLeak:
    """A leak put into a household: steady flow (drip, continuous, burst) or periodic refills (toilet)."""

    kind: str  # one of LEAK_KINDS
    start_s: float  # seconds after the household's first local midnight
    end_s: float
    rate_lph: float
    refill_l: float = 0.0
    period_s: float = 0.0
    fill_lpm: float = 0.0

    def draws(self) -> Draws:
        """The leak as constant-rate draws."""
        out = Draws()
        if self.kind != "toilet":
            out.add(self.start_s, self.end_s - self.start_s, self.rate_lph / 60.0, "leak")
            return out
        t = self.start_s
        while t < self.end_s:
            out.add(t, self.refill_l / self.fill_lpm * 60.0, self.fill_lpm, "leak")
            t += self.period_s
        return out

    def litres_between(self, t0_s: float, t1_s: float) -> float:
        """Litres the leak lost in [t0, t1) (household seconds)."""
        a, b = max(t0_s, self.start_s), min(t1_s, self.end_s)
        if b <= a:
            return 0.0
        if self.kind != "toilet":
            return self.rate_lph * (b - a) / 3600.0
        fill_s = self.refill_l / self.fill_lpm * 60.0
        total, t = 0.0, self.start_s
        while t < self.end_s and t < b:
            total += self.fill_lpm / 60.0 * max(0.0, min(t + fill_s, b) - max(t, a))
            t += self.period_s
        return total

    @property
    def band(self) -> str:
        """Size band for the tables."""
        if self.kind == "burst":
            lpm = self.rate_lph / 60.0
            return "<20 L/min" if lpm < 20 else ("20-60 L/min" if lpm < 60 else ">=60 L/min")
        r = self.rate_lph
        return "<4 L/h" if r < 4 else ("4-10 L/h" if r < 10 else ("10-50 L/h" if r < 50 else ">=50 L/h"))


@dataclass(frozen=True)
class Scenario:
    """One household with at most one leak, some missing readings, a pulse size and a reading phase."""

    house: HouseholdSpec
    leak: InjectedLeak | None = None
    gaps: tuple[tuple[int, int], ...] = ()  # [start_s, end_s) household seconds with no readings
    l_per_pulse: float = 0.0
    phase_s: float = 0.0  # readings come this far into each minute

    @property
    def meter_id(self) -> str:
        """Meter name of this household."""
        return f"{self.house.kind}-{self.house.seed}"

    @property
    def weeks(self) -> float:
        """Household-weeks of data."""
        return self.house.days / 7.0


def scenario_minutes(sc: Scenario) -> tuple[int, np.ndarray]:
    """(first minute's Unix s, litres per minute) as the monitor would see them; NaN = no reading.

    The first minute after missing readings carries what flowed during them (the register kept
    counting); a pulse meter reports whole pulses (register floored, from a random fraction).
    """
    r = build(sc.house)
    draws = Draws()
    draws.extend(r.draws)
    minutes = sc.house.days * 1440
    litres = render_minutes(draws, minutes, sc.phase_s - 60.0)
    if r.header_tank is not None:
        litres = through_header_tank(litres, *r.header_tank)
    if sc.leak is not None:
        litres = litres + render_minutes(sc.leak.draws(), minutes, sc.phase_s - 60.0)
    if sc.l_per_pulse > 0:
        rng = random.Random(sc.house.seed)
        pulses = np.floor((np.cumsum(litres) + rng.uniform(0, sc.l_per_pulse)) / sc.l_per_pulse + 1e-9)
        litres = np.diff(pulses, prepend=pulses[0] if len(pulses) else 0.0) * sc.l_per_pulse
        litres[0] = 0.0
    out = litres.copy()
    for g0, g1 in sc.gaps:
        a, b = max(0, int(g0 // 60)), min(minutes, -(-int(g1) // 60))
        if a >= b:
            continue
        carried = float(np.nansum(litres[a:b]))
        out[a:b] = np.nan
        if b < minutes and not math.isnan(out[b]):
            out[b] += carried
    return r.t0_s, out


@dataclass
class RunResult:
    """What the detector said about one scenario: alerts as first opened (with final status) and notices."""

    alerts: list[LeakAlert]
    final: dict[str, LeakAlert]
    notices: list[UsageNotice]
    t0_s: int


def run_scenario(sc: Scenario, config: LeakConfig | None = None) -> RunResult:
    """Feed the scenario to a fresh detector in the household's zone."""
    cfg = config or LeakConfig()
    if cfg.tz != sc.house.tz:
        cfg = LeakConfig.from_dict({**cfg.to_dict(), "tz": sc.house.tz})
    det = LeakDetector(cfg)
    t0_s, litres = scenario_minutes(sc)
    meter = sc.meter_id
    opened: dict[str, LeakAlert] = {}
    final: dict[str, LeakAlert] = {}
    notices: list[UsageNotice] = []
    update = det.update
    for i, v in enumerate(litres.tolist()):
        if v != v:  # NaN: no reading
            continue
        for ev in update(meter, t0_s + 60 * i, v):
            aid = ev.alert.alert_id
            if ev.kind == "open":
                opened[aid] = ev.alert
            final[aid] = ev.alert
        if det._notices:
            notices.extend(det.drain_notices())
    return RunResult(list(opened.values()), final, [n for n in notices if n.status == "open"], t0_s)


# ---- populations ------------------------------------------------------------------------------------


def _gaps(rng: random.Random, days: int) -> tuple[tuple[int, int], ...]:
    out = []
    if rng.random() < 0.5:  # lost messages: a minute or two now and then
        for _ in range(rng.randint(1, 12)):
            start = rng.randrange(0, days * DAY_S - 600)
            out.append((start, start + 60 * rng.randint(1, 3)))
    if rng.random() < 0.1:  # outages of 10 min to 12 h
        for _ in range(rng.randint(1, 2)):
            length_s = int(math.exp(rng.uniform(math.log(600), math.log(12 * 3600))))
            start = rng.randrange(0, days * DAY_S - length_s)
            out.append((start, start + length_s))
    return tuple(sorted(out))


def make_leak(rng: random.Random, kind: str, days: int) -> InjectedLeak:
    """A leak of that kind at a random time (mid-minute starts included)."""
    end_all = days * DAY_S
    if kind == "burst":
        lpm = (
            math.exp(rng.uniform(math.log(20.0), math.log(150)))
            if rng.random() < 0.75
            else rng.uniform(5, 20)
        )
        start = rng.uniform(2 * DAY_S, end_all - DAY_S)
        return InjectedLeak("burst", start, min(end_all, start + rng.uniform(1800, 8 * 3600)), lpm * 60)
    start = rng.uniform(2 * DAY_S, end_all - 3 * DAY_S)
    end = min(end_all, start + rng.uniform(2 * DAY_S, 7 * DAY_S))
    if kind == "toilet":
        refill_l, period_s = rng.uniform(0.5, 4.0), rng.uniform(5 * 60, 90 * 60)
        fill = rng.uniform(6.0, 12.0)
        return InjectedLeak("toilet", start, end, refill_l * 3600 / period_s, refill_l, period_s, fill)
    if kind == "drip":
        return InjectedLeak("drip", start, end, math.exp(rng.uniform(math.log(1.0), math.log(DRIP_MAX_LPH))))
    return InjectedLeak(
        "continuous", start, end, math.exp(rng.uniform(math.log(DRIP_MAX_LPH), math.log(300)))
    )


def population(
    seed: int,
    per_kind: int,
    weeks: int,
    with_leaks: bool,
    kinds: Iterable[str] = KINDS,
    pulses: Iterable[float] = (0.0, 1.0),
) -> list[Scenario]:
    """per_kind households of each kind, each with one leak (kinds in turn) or none."""
    rng = random.Random(seed)
    days = weeks * 7
    pulse_sizes = list(pulses)
    out = []
    for kind in kinds:
        for i in range(per_kind):
            hseed = seed * 100_003 + KINDS.index(kind) * 10_007 + i
            house = HouseholdSpec(kind, hseed, days, rng.choice(ZONES))
            leak = make_leak(rng, LEAK_KINDS[(i + KINDS.index(kind)) % 4], days) if with_leaks else None
            out.append(Scenario(house, leak, _gaps(rng, days), rng.choice(pulse_sizes), rng.uniform(0, 60)))
    return out


# ---- scoring ----------------------------------------------------------------------------------------


@dataclass
class LeakResult:
    """How the detector did on one injected leak."""

    scenario: Scenario
    gap_in_window: bool
    delay_s: int | None = None
    alert: LeakAlert | None = None
    true_litres: float = 0.0  # lost from the leak's start to the alert's detection

    @property
    def leak(self) -> InjectedLeak:
        """The injected leak."""
        assert self.scenario.leak is not None
        return self.scenario.leak

    @property
    def rate_error(self) -> float | None:
        """Relative error of the rate estimated at detection."""
        return None if self.alert is None else (self.alert.rate_lph - self.leak.rate_lph) / self.leak.rate_lph

    @property
    def volume_error(self) -> float | None:
        """Relative error of the litres lost so far, at detection."""
        if self.alert is None or self.true_litres <= 0:
            return None
        return (self.alert.volume_l - self.true_litres) / self.true_litres

    @property
    def start_error_s(self) -> float | None:
        """Estimated start minus the true start."""
        return None if self.alert is None else self.alert.started_at - self._start_ts

    @property
    def kind_right(self) -> bool | None:
        """Whether the alert names the leak's kind."""
        return None if self.alert is None else self.alert.kind == EXPECTED_KIND[self.leak.kind]

    @property
    def _start_ts(self) -> float:
        return self.scenario_t0 + self.leak.start_s

    scenario_t0: int = 0


@dataclass
class HouseStats:
    """False alarms and notices on one household kind."""

    weeks: float = 0.0
    false_alarms: int = 0
    notices: int = 0
    households: int = 0
    false_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    """Scores of one evaluation run."""

    leaks: list[LeakResult] = field(default_factory=list)
    houses: dict[str, HouseStats] = field(default_factory=dict)
    false_examples: list[tuple[str, str, str]] = field(default_factory=list)

    def house(self, kind: str) -> HouseStats:
        """The stats of one household kind."""
        return self.houses.setdefault(kind, HouseStats())

    @property
    def weeks(self) -> float:
        """All household-weeks."""
        return sum(h.weeks for h in self.houses.values())

    @property
    def false_per_100_weeks(self) -> float:
        """False alarms per 100 household-weeks over every household."""
        w = self.weeks
        return 100.0 * sum(h.false_alarms for h in self.houses.values()) / w if w else 0.0

    def goal_background(self) -> list[LeakResult]:
        """Background leaks of at least 4 L/h with data through their first 26 h."""
        return [
            r
            for r in self.leaks
            if r.leak.kind != "burst"
            and r.leak.rate_lph >= GOAL_BACKGROUND_LPH
            and not r.gap_in_window
            and r.leak.end_s - r.leak.start_s >= GOAL_BACKGROUND_DELAY_S
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
        bg, bursts = self.goal_background(), self.goal_bursts()
        bg_share = _share(bg, lambda r: r.delay_s is not None and r.delay_s <= GOAL_BACKGROUND_DELAY_S)
        burst_share = _share(bursts, lambda r: r.delay_s is not None and r.delay_s <= GOAL_BURST_DELAY_S)
        found = [r for r in bg + bursts if r.alert is not None]
        kind_share = _share(found, lambda r: r.kind_right)
        start_share = _share(
            [r for r in found if r.leak.kind != "burst"], lambda r: abs(r.start_error_s) <= GOAL_START_S
        )
        vol = [r for r in found if r.volume_error is not None]
        vol_share = _share(vol, lambda r: abs(r.volume_error) <= GOAL_VOLUME_ERROR)
        rate_share = _share(found, lambda r: abs(r.rate_error) <= GOAL_RATE_ERROR)
        fa = self.false_per_100_weeks
        return {
            "leaks >= 4 L/h detected within 26 h": (bg_share, bg_share >= GOAL_DETECTED_SHARE),
            "bursts >= 20 L/min detected within 20 min": (burst_share, burst_share == 1.0),
            "false alarms per 100 household-weeks": (fa, fa <= GOAL_FALSE_PER_100_WEEKS),
            "kind right": (kind_share, kind_share >= GOAL_KIND_RIGHT),
            "background start within 1 h": (start_share, start_share >= GOAL_START_SHARE),
            "loss so far within +-10 %": (vol_share, vol_share >= GOAL_START_SHARE),
            "rate within +-20 %": (rate_share, rate_share >= GOAL_DETECTED_SHARE),
        }


def _share(items: list, pred: Callable) -> float:
    return sum(1 for x in items if pred(x)) / len(items) if items else float("nan")


def _overlaps_gap(sc: Scenario, t0: float, t1: float) -> bool:
    # Lost single readings are spread by the detector; only outages of 10 min or more hide a leak.
    return any(g0 < t1 and g1 > t0 and g1 - g0 >= 600 for g0, g1 in sc.gaps)


def score(
    pop: list[Scenario],
    config: LeakConfig | None = None,
    run: Callable = run_scenario,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> Report:
    """Run the detector on every scenario and score it."""
    rep = Report()
    items: Iterable = pop if progress is None else progress(pop)
    for sc in items:
        res = run(sc, config)
        hs = rep.house(sc.house.kind)
        hs.weeks += sc.weeks
        hs.households += 1
        hs.notices += len(res.notices)
        leak = sc.leak
        matched: list[LeakAlert] = []
        if leak is not None:
            start_ts, end_ts = res.t0_s + leak.start_s, res.t0_s + leak.end_s
            matched = [a for a in res.alerts if start_ts <= a.detected_at <= end_ts + MATCH_GRACE_S]
            window = GOAL_BURST_DELAY_S if leak.kind == "burst" else GOAL_BACKGROUND_DELAY_S
            lr = LeakResult(sc, _overlaps_gap(sc, leak.start_s, leak.start_s + window), scenario_t0=res.t0_s)
            if matched:
                first = min(matched, key=lambda a: a.detected_at)
                lr.alert = first
                lr.delay_s = int(first.detected_at - start_ts)
                # The minute before detected_at holds readings up to phase_s into it (the usage rule
                # books a minute's flow at its last reading): the figures are as of then.
                data_end_s = first.detected_at - res.t0_s - 60 + sc.phase_s
                lr.true_litres = leak.litres_between(leak.start_s, data_end_s)
            rep.leaks.append(lr)
        for a in res.alerts:
            if a not in matched:
                hs.false_alarms += 1
                hs.false_by_kind[a.kind] = hs.false_by_kind.get(a.kind, 0) + 1
                if len(rep.false_examples) < 40:
                    rep.false_examples.append(
                        (sc.meter_id, a.rule, f"{a.rate_lph:.1f} L/h at {a.detected_at}")
                    )
    return rep


def leak_rows(rep: Report) -> list[dict]:
    """One row per leak kind: detection, time to detect, kind right, start error, rate and volume error."""
    rows = []
    for kind in LEAK_KINDS:
        rs = [r for r in rep.leaks if r.leak.kind == kind]
        if kind == "burst":
            goal = [r for r in rs if r.leak.rate_lph >= GOAL_BURST_LPM * 60 and not r.gap_in_window]
        else:
            goal = [
                r
                for r in rs
                if r.leak.rate_lph >= GOAL_BACKGROUND_LPH
                and not r.gap_in_window
                and r.leak.end_s - r.leak.start_s >= GOAL_BACKGROUND_DELAY_S
            ]
        rows.append(_row(kind, rs, goal))
    return rows


def house_rows(rep: Report) -> list[dict]:
    """One row per household kind: false alarms and notices per 100 household-weeks, and its leaks."""
    rows = []
    for kind, hs in sorted(rep.houses.items()):
        rs = [r for r in rep.leaks if r.scenario.house.kind == kind]
        goal = [r for r in rs if r in rep.goal_background() or r in rep.goal_bursts()]
        row = _row(kind, rs, goal)
        row.update(
            households=hs.households,
            weeks=hs.weeks,
            false=hs.false_alarms,
            false_per_100=100.0 * hs.false_alarms / hs.weeks if hs.weeks else float("nan"),
            notices_per_100=100.0 * hs.notices / hs.weeks if hs.weeks else float("nan"),
            false_by_kind=dict(hs.false_by_kind),
        )
        rows.append(row)
    return rows


def _row(name: str, rs: list[LeakResult], goal: list[LeakResult]) -> dict:
    hit = [r for r in rs if r.alert is not None]
    goal_hit = [r for r in goal if r.alert is not None]
    delays = sorted(r.delay_s for r in hit if r.delay_s is not None)
    starts = sorted(abs(r.start_error_s) for r in goal_hit if r.start_error_s is not None)
    rate_errs = sorted(abs(r.rate_error) for r in goal_hit if r.rate_error is not None)
    vol_errs = sorted(abs(r.volume_error) for r in goal_hit if r.volume_error is not None)
    return {
        "name": name,
        "leaks": len(rs),
        "detected": len(hit),
        "goal": len(goal),
        "goal_detected": len(goal_hit),
        "delay_p50_s": statistics.median(delays) if delays else float("nan"),
        "delay_max_s": delays[-1] if delays else float("nan"),
        "kind_right": _share(goal_hit, lambda r: r.kind_right),
        "start_err_p50_s": statistics.median(starts) if starts else float("nan"),
        "start_within_1h": _share(goal_hit, lambda r: abs(r.start_error_s) <= GOAL_START_S),
        "rate_err_p50": statistics.median(rate_errs) if rate_errs else float("nan"),
        "rate_within_20": _share(goal_hit, lambda r: abs(r.rate_error) <= GOAL_RATE_ERROR),
        "volume_err_p50": statistics.median(vol_errs) if vol_errs else float("nan"),
        "volume_within_10": _share(
            [r for r in goal_hit if r.volume_error is not None],
            lambda r: abs(r.volume_error) <= GOAL_VOLUME_ERROR,
        ),
    }
