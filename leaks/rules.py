"""The leak rules as pure functions over hourly volumes and refill events."""

from __future__ import annotations

from dataclasses import dataclass, field

from leaks.config import LeakConfig
from leaks.model import CONTINUOUS, DRIPPING, NIGHT_FLOOR, RUNNING_TOILET

RATE_BLOCK_H = 4  # shorter than any night, so a window that splits a night still holds one block
RATE_SPAN_H = 72


@dataclass(frozen=True)
class Finding:
    """A rule's verdict that a leak is present now."""

    kind: str
    rate_lph: float
    started_at: int
    confidence: float
    evidence: dict = field(default_factory=dict)
    floor_lph: float = 0.0  # flow the leak kept up in every hour: the alert resolves below half of it


def background_rate_lph(hour_vols: list[float], block_h: int = RATE_BLOCK_H) -> float:
    """Leak rate under normal use: the quietest block of block_h hours, averaged by trimmed_mean_l.

    The quietest contiguous block is where nobody draws water, so its volume is the leak alone; a
    contiguous block (not the k lowest hours) avoids the low bias that picking the lowest hours would
    give a leak that comes in whole refills.
    """
    n = len(hour_vols)
    if n == 0:
        return 0.0
    block_h = min(block_h, n)
    best_sum = None
    best_start = 0
    run = sum(hour_vols[:block_h])
    for start in range(0, n - block_h + 1):
        if start:
            run += hour_vols[start + block_h - 1] - hour_vols[start - 1]
        if best_sum is None or run < best_sum - 1e-9:
            best_sum, best_start = run, start
    return trimmed_mean_l(hour_vols[best_start:best_start + block_h])


def trimmed_mean_l(hour_vols: list[float]) -> float:
    """Mean hour, without the highest hour when it stands out (a night toilet visit on top of the leak).

    An hour stands out when it exceeds 1.5 x the next highest + 1 L: a leak in whole refills moves
    between n and n + 1 refills an hour, which this keeps, so its average stays unbiased.
    """
    vols = sorted(hour_vols)
    if len(vols) > 2 and vols[-1] > 1.5 * vols[-2] + 1.0:
        vols = vols[:-1]
    return sum(vols) / len(vols)


def leak_start_s(hour_vols: list[float], first_hour_s: int, min_l: float) -> int:
    """Start of the trailing streak of hours that each carried at least min_l."""
    start = first_hour_s + 3600 * len(hour_vols)
    for i in range(len(hour_vols) - 1, -1, -1):
        if hour_vols[i] < min_l:
            break
        start = first_hour_s + 3600 * i
    return start


def continuous_flow(cfg: LeakConfig, hours: list[float], first_hour_s: int) -> Finding | None:
    """Fires when every hour of the last continuous_window_h hours carried at least continuous_min_lph.

    The rate comes from the whole trailing streak of such hours (up to RATE_SPAN_H), which holds a night.
    """
    window = hours[-cfg.continuous_window_h:]
    low_l = min(window)
    if low_l < cfg.continuous_min_lph:
        return None
    start_s = leak_start_s(hours[-RATE_SPAN_H:], first_hour_s + 3600 * max(0, len(hours) - RATE_SPAN_H),
                           cfg.continuous_min_lph)
    streak = hours[-((first_hour_s + 3600 * len(hours) - start_s) // 3600):]
    rate = max(background_rate_lph(streak), low_l)
    return Finding(
        CONTINUOUS, rate, start_s,
        round(min(0.99, 0.7 + 0.1 * low_l / cfg.continuous_min_lph), 3),
        {"rules": [CONTINUOUS], "window_h": len(window), "lowest_hour_l": round(low_l, 3)},
        low_l,
    )


def dripping(cfg: LeakConfig, window: list[float], window_start_s: int) -> Finding | None:
    """Fires when at least drip_wet_fraction of the window's hours carried drip_wet_min_l or more."""
    wet = sum(1 for v in window if v >= cfg.drip_wet_min_l)
    frac = wet / len(window)
    if frac < cfg.drip_wet_fraction:
        return None
    last_day = window[-24:]
    rate = background_rate_lph(last_day)
    if rate < cfg.drip_wet_min_l:
        # Intermittent drip: the quiet block has dry hours, so average the wet hours' share instead.
        rate = sorted(last_day)[len(last_day) // 4]
    return Finding(
        DRIPPING, rate, leak_start_s(window, window_start_s, cfg.drip_wet_min_l),
        round(min(0.95, 0.5 + frac - cfg.drip_wet_fraction + 0.3), 3),
        {"rules": [DRIPPING], "window_h": len(window), "wet_hours": wet},
        cfg.drip_wet_min_l / cfg.resolve_fraction,
    )


def night_floor(cfg: LeakConfig, night: list[float], night_start_s: int,
                baseline_lph: float) -> Finding | None:
    """Fires when the lowest night hour exceeds the household's own night baseline by night_margin_lph."""
    floor_l = min(night)
    if floor_l - baseline_lph < cfg.night_margin_lph:
        return None
    rate = max(trimmed_mean_l(night) - baseline_lph, floor_l - baseline_lph)
    return Finding(
        NIGHT_FLOOR, rate, night_start_s,
        round(min(0.95, 0.6 + 0.1 * (floor_l - baseline_lph) / cfg.night_margin_lph), 3),
        {"rules": [NIGHT_FLOOR], "night_floor_lph": round(floor_l, 3),
         "baseline_lph": round(baseline_lph, 3)},
        floor_l - baseline_lph,
    )


def running_toilet(cfg: LeakConfig, refills: list[list[float]]) -> Finding | None:
    """Fires when the night's refills include min_refills similar ones at regular intervals.

    refills are [start_s, litres, night_litres_before] in time order; the newest is the reference
    for "similar".
    """
    if len(refills) < cfg.toilet_min_refills:
        return None
    ref_l = refills[-1][1]
    tol_l = max(cfg.toilet_similar_frac * ref_l, cfg.toilet_similar_abs_l)
    similar = [r for r in refills if abs(r[1] - ref_l) <= tol_l]
    k = cfg.toilet_min_refills
    if len(similar) < k:
        return None
    last = similar[-k:]
    gaps_min = [(b[0] - a[0]) / 60.0 for a, b in zip(last, last[1:], strict=False)]
    base_min = min(gaps_min)
    if base_min < cfg.toilet_interval_min_min or base_min > cfg.toilet_interval_max_min:
        return None
    # Regular: every interval is about one period, or two when a refill merged into a flush and was lost.
    tol = cfg.toilet_interval_spread - 1.0
    for g in gaps_min:
        m = max(1, round(g / base_min))
        if m > 2 or abs(g - m * base_min) > tol * base_min:
            return None
    # Rate over every similar refill of the night: volume after the first, over the time they span.
    span_s = similar[-1][0] - similar[0][0]
    refill_l = sum(r[1] for r in similar[1:])
    # refills[i][2] is the night's volume before refill i: the refills must carry most of the flow in
    # their span, or this is steady flow in whole pulses or ordinary use, not a cistern refilling.
    span_l = similar[-1][2] + similar[-1][1] - similar[1][2]
    if refill_l < cfg.toilet_min_share * span_l:
        return None
    # A refill lost inside a flush leaves a double interval: count periods, not refills.
    periods = sum(max(1, round((b[0] - a[0]) / 60.0 / base_min))
                  for a, b in zip(similar, similar[1:], strict=False))
    rate = refill_l / (len(similar) - 1) * periods * 3600.0 / span_s
    return Finding(
        RUNNING_TOILET, rate, int(similar[0][0]),
        round(min(0.95, 0.5 + 0.05 * len(similar)), 3),
        {"rules": [RUNNING_TOILET], "refills": len(similar), "refill_l": round(sum(r[1] for r in similar)
                                                                               / len(similar), 3),
         "interval_min": round(span_s / 60.0 / (len(similar) - 1), 1)},
        rate,
    )
