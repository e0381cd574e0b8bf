"""Rules against the meter's own history, on the built series: zero use, high/low, prolonged estimation."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from statistics import median

from core.timezones import zone
from vee.config import VeeConfig
from vee.model import Finding, Rule, Series, Status


def _flag(series: Series, ts_s: int, rule: Rule, detail: str) -> None:
    series.findings.append(Finding(series.points[0].meter, ts_s, rule, detail))
    ts = [p.ts_s for p in series.points]
    i = bisect_right(ts, ts_s) - 1
    if i >= 0 and rule.value not in series.points[i].flags:
        series.points[i].flags.append(rule.value)


def zero_consumption(series: Series, cfg: VeeConfig) -> None:
    """A register that did not move for `zero_days` while readings kept coming: stopped or tampered meter."""
    limit_s = cfg.zero_days * 86400
    run_start = None
    reported = False
    prev = None
    for p in series.points:
        if p.status == Status.ESTIMATED:
            continue
        if prev is None or p.segment != prev.segment or p.total_ml != prev.total_ml:
            run_start, reported = p, False
        elif not reported and run_start is not None and p.ts_s - run_start.ts_s >= limit_s:
            _flag(
                series,
                p.ts_s,
                Rule.ZERO_CONSUMPTION,
                f"register at {p.total_ml} ml since ts {run_start.ts_s}: no consumption for "
                f"{cfg.zero_days} days",
            )
            reported = True
        prev = p


def high_low(series: Series, cfg: VeeConfig) -> None:
    """A local day's use far above or below the median of the meter's previous days."""
    pts = [p for p in series.points if p.status != Status.ESTIMATED]
    if len(pts) < 2:
        return
    tz = zone(cfg.tz)
    first, last = pts[0].ts_s, pts[-1].ts_s
    day = datetime.fromtimestamp(first, tz).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )
    days: list[int] = []
    while True:
        end = day + timedelta(days=1)
        if end.timestamp() > last:
            break
        start_s, end_s = int(day.timestamp()), int(end.timestamp())
        used = series.consumption(start_s, end_s)
        history = days[-cfg.history_days :]
        if len(history) >= cfg.min_history_days:
            med = median(history)
            if used > cfg.high_factor * med and used - med >= cfg.high_min_ml:
                _flag(
                    series,
                    end_s,
                    Rule.HIGH,
                    f"{used} ml on the day ending {end.date()} is over "
                    f"{cfg.high_factor}× the median {med:.0f} ml of the previous days",
                )
            elif med >= cfg.low_min_median_ml and used < cfg.low_factor * med:
                _flag(
                    series,
                    end_s,
                    Rule.LOW,
                    f"{used} ml on the day ending {end.date()} is under "
                    f"{cfg.low_factor}× the median {med:.0f} ml of the previous days",
                )
        days.append(used)
        day = end


def prolonged_estimation(series: Series, cfg: VeeConfig) -> None:
    for a, b in series.estimated_spans:
        if b - a > cfg.max_estimation_s:
            _flag(
                series,
                b,
                Rule.PROLONGED_ESTIMATION,
                f"{(b - a) / 86400:.1f} days estimated between ts {a} and {b} "
                f"(limit {cfg.max_estimation_s / 86400:.1f} days)",
            )


def apply(series: Series, cfg: VeeConfig) -> None:
    """Run every history rule; each adds findings and flags the point it concerns."""
    if not series.points:
        return
    zero_consumption(series, cfg)
    high_low(series, cfg)
    prolonged_estimation(series, cfg)
