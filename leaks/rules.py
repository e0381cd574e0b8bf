"""The leak rules as pure functions over hourly records, refill events and draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from leaks.config import LeakConfig
from leaks.model import (
    CONTINUOUS,
    DRIP,
    RULE_CONTINUOUS,
    RULE_DRIPPING,
    RULE_NIGHT_FLOOR,
    RULE_TOILET,
    RUNNING_TOILET,
)

RATE_BLOCK_H = 4  # shorter than any night, so a window that splits a night still holds one block


@dataclass(frozen=True)
class Finding:
    """A rule's verdict that a leak is present now."""

    rule: str
    kind: str
    rate_lph: float
    confidence: float
    evidence: dict = field(default_factory=dict)
    period_min: float = 0.0  # for refills: the interval between them (sets how long a pause may be)
    floor_lph: float = 0.0  # the least rate the evidence allows: how long a pause the leak can leave


def steady_kind(cfg: LeakConfig, rate_lph: float) -> str:
    """A steady flow's kind by its rate: a drip below drip_max_lph, else continuous."""
    return DRIP if rate_lph < cfg.drip_max_lph else CONTINUOUS


def background_rate_lph(hour_vols: Sequence[float], block_h: int = RATE_BLOCK_H) -> float:
    """Leak rate under normal use: the quietest block of block_h contiguous hours, trimmed_mean_l of it.

    The quietest contiguous block is where nobody draws water, so its volume is the leak alone; a
    contiguous block (not the k lowest hours) avoids the low bias that picking the lowest hours would
    give a leak that comes in whole refills or pulses.
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
    return trimmed_mean_l(hour_vols[best_start : best_start + block_h])


def trimmed_mean_l(hour_vols: Sequence[float]) -> float:
    """Mean hour, without the highest hour when it stands out (a night toilet visit on top of the leak).

    An hour stands out when it exceeds 1.5 x the next highest + 1 L: a leak in whole refills moves
    between n and n + 1 refills an hour, which this keeps, so its average stays unbiased.
    """
    vols = sorted(hour_vols)
    if len(vols) > 2 and vols[-1] > 1.5 * vols[-2] + 1.0:
        vols = vols[:-1]
    return sum(vols) / len(vols)


def leak_rate_lph(
    floor_lph: float, hours_l: Sequence[float], quantum_l: float, block_h: int = RATE_BLOCK_H
) -> float:
    """A steady leak's rate: its floor on exact data, the quietest block of hours on a pulse meter.

    With exact litres the least hour-long block is the leak alone (the household is quiet for an hour
    somewhere); whole pulses make that least block low by up to a pulse, so a longer block is averaged.
    """
    if quantum_l <= 0:
        return floor_lph
    # The least hour-long block holds a whole number of pulses: at most one short of the leak.
    return min(max(background_rate_lph(hours_l, block_h), floor_lph), floor_lph + quantum_l)


def continuous_flow(
    cfg: LeakConfig, floors60_l: Sequence[float], hours_l: Sequence[float], quantum_l: float = 0.0
) -> Finding | None:
    """Every hour-long block of the window carried continuous_min_lph.

    floors60_l are, per hour of the window, the least volume of an hour-long block (sliding by the
    minute) ending in that hour: one quiet hour anywhere in the window is enough to rule a leak out.
    """
    low = min(floors60_l)
    if low < cfg.continuous_min_lph:
        return None
    rate = leak_rate_lph(low, hours_l, quantum_l)
    return Finding(
        RULE_CONTINUOUS,
        steady_kind(cfg, rate),
        rate,
        round(min(0.99, 0.7 + 0.1 * low / cfg.continuous_min_lph), 3),
        {"window_h": len(floors60_l), "floor_lph": round(low, 3)},
        floor_lph=low,
    )


def dripping(
    cfg: LeakConfig, floors60_l: Sequence[float], hours_l: Sequence[float], quantum_l: float = 0.0
) -> Finding | None:
    """Every hour-long block of a longer window carried drip_min_lph: a small, steady drip."""
    low = min(floors60_l)
    if low < cfg.drip_min_lph:
        return None
    rate = leak_rate_lph(low, hours_l[-24:], quantum_l, 6)
    return Finding(
        RULE_DRIPPING,
        steady_kind(cfg, rate),
        rate,
        round(min(0.95, 0.6 + 0.05 * low / cfg.drip_min_lph), 3),
        {"window_h": len(floors60_l), "floor_lph": round(low, 3)},
        floor_lph=low,
    )


def night_floor(
    cfg: LeakConfig,
    night_floor_lph: float,
    night_hours_l: Sequence[float],
    baseline_lph: float,
    quantum_l: float = 0.0,
) -> Finding | None:
    """The night's quietest hour-long block exceeds the household's own night baseline by night_margin_lph."""
    excess = night_floor_lph - baseline_lph
    if excess < cfg.night_margin_lph:
        return None
    rate = (
        excess
        if quantum_l <= 0
        else min(max(trimmed_mean_l(night_hours_l) - baseline_lph, excess), excess + quantum_l)
    )
    return Finding(
        RULE_NIGHT_FLOOR,
        steady_kind(cfg, rate),
        rate,
        round(min(0.95, 0.6 + 0.1 * excess / cfg.night_margin_lph), 3),
        {"night_floor_lph": round(night_floor_lph, 3), "baseline_lph": round(baseline_lph, 3)},
        floor_lph=excess,
    )


def running_toilet(cfg: LeakConfig, refills: Sequence[Sequence[float]], quantum_l: float) -> Finding | None:
    """The night's refills hold a chain of toilet_min_refills similar ones, one period apart.

    refills are [start_s, litres, night_litres_before, largest minute litres] in time order. The chain
    is built back from the newest refill: each link is a refill of about the same volume one period
    earlier (within toilet_interval_tol, or toilet_interval_tol_min), and one refill may be missing (it
    merged into a flush). A leaking flapper drains the cistern at a steady rate, so its period holds; people's
    flushes do not. On a pulse meter (quantum_l > 0) a steady flow also arrives as single pulses at
    regular intervals: a chain of single pulses all one interval apart is left to the floor rules.
    """
    k = cfg.toilet_min_refills
    if len(refills) < k:
        return None
    ref_l = refills[-1][1]
    tol_l = max(cfg.toilet_similar_frac * ref_l, cfg.toilet_similar_abs_l, 1.01 * quantum_l)
    similar = [r for r in refills if abs(r[1] - ref_l) <= tol_l]
    if len(similar) < k:
        return None
    chain, period_min = _best_chain(cfg, similar)
    if period_min < cfg.toilet_short_period_min:
        k = cfg.toilet_short_min_refills
    if len(chain) < k or chain[-1][0] - chain[0][0] < 60.0 * cfg.toilet_min_span_min:
        return None
    gaps_min = [(b[0] - a[0]) / 60.0 for a, b in zip(chain, chain[1:], strict=False)]
    periods = sum(max(1, round(g / period_min)) for g in gaps_min)
    span_s = chain[-1][0] - chain[0][0]
    period_min = span_s / 60.0 / periods
    if quantum_l > 0 and all(r[3] < 1.5 * quantum_l for r in chain):
        # Single pulses only: below a pulse a minute, a steady flow never puts two in one minute, and a
        # refill of more than a pulse sometimes does; a refill smaller than a pulse cannot be told from
        # a steady flow, which the floor rules measure better.
        return None
    # The refills must carry most of the flow in their span (refills[i][2]: the night's volume before
    # refill i), or this is steady flow or ordinary use, not a cistern refilling.
    refill_l = sum(r[1] for r in chain[1:])
    span_l = chain[-1][2] + chain[-1][1] - chain[1][2]
    if refill_l < cfg.toilet_min_share * span_l:
        return None
    mean_l = sum(r[1] for r in chain) / len(chain)
    rate = mean_l * 60.0 / period_min
    return Finding(
        RULE_TOILET,
        RUNNING_TOILET,
        rate,
        round(min(0.95, 0.5 + 0.05 * len(chain)), 3),
        {
            "refills": len(chain),
            "refill_l": round(mean_l, 3),
            "interval_min": round(period_min, 1),
            "first_refill_s": int(chain[0][0]),
        },
        period_min,
        rate,
    )


def _best_chain(cfg: LeakConfig, similar: list[Sequence[float]]) -> tuple[list[Sequence[float]], float]:
    """The longest chain of refills one period apart, built back from the newest (oldest first)."""
    anchor = similar[-1]
    best: list[Sequence[float]] = [anchor]
    best_p = 0.0
    for j in range(len(similar) - 2, max(-1, len(similar) - 6), -1):
        gap_min = (anchor[0] - similar[j][0]) / 60.0
        for m in (1, 2):
            p = gap_min / m
            if not cfg.toilet_interval_min_min <= p <= cfg.toilet_interval_max_min:
                continue
            tol_s = 60.0 * max(cfg.toilet_interval_tol * p, cfg.toilet_interval_tol_min)
            chain = [anchor]
            t, misses, idx = anchor[0], 0, len(similar) - 2
            while idx >= 0 and misses <= 1:
                due = t - 60.0 * p
                while idx >= 0 and similar[idx][0] > due + tol_s:
                    idx -= 1
                if idx >= 0 and abs(similar[idx][0] - due) <= tol_s:
                    chain.append(similar[idx])
                    t, misses = similar[idx][0], 0
                    idx -= 1
                else:
                    t, misses = due, misses + 1
            if len(chain) > len(best):
                best, best_p = chain, p
    best.reverse()
    return best, best_p
