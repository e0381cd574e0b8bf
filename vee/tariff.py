"""Billing determinants: volume per tariff tier per billing period from the validated series.

A tier table is data: its tier period (calendar year or month, in the table's time zone) and the
upper bounds of every tier but the last, in m³. Volumes are whole millilitres; the tiers of a bill
always sum to the consumption over the bill period, which is the register difference over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vee.series import Series

ML_PER_M3 = 1_000_000


@dataclass(frozen=True, slots=True)
class TierTable:
    """Tier bounds (m³, cumulative within each tier period) and optional prices (fen per m³)."""

    name: str
    period: Literal["annual", "monthly"]
    bounds_m3: tuple[float, ...]
    prices_fen_per_m3: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.period not in ("annual", "monthly"):
            raise ValueError(f"tier period must be 'annual' or 'monthly', got {self.period!r}")
        if any(b <= 0 for b in self.bounds_m3) or list(self.bounds_m3) != sorted(set(self.bounds_m3)):
            raise ValueError("tier bounds must be positive and strictly increasing m³")
        if self.prices_fen_per_m3 is not None and len(self.prices_fen_per_m3) != len(self.bounds_m3) + 1:
            raise ValueError(f"{len(self.bounds_m3) + 1} tiers need as many prices")

    @property
    def bounds_ml(self) -> list[int]:
        return [round(b * ML_PER_M3) for b in self.bounds_m3]

    @classmethod
    def from_dict(cls, doc: dict) -> TierTable:
        """A table from JSON-like data: {"name", "period", "bounds_m3": [...], "prices_fen_per_m3"?}."""
        try:
            prices = doc.get("prices_fen_per_m3")
            return cls(
                str(doc["name"]),
                doc["period"],
                tuple(float(b) for b in doc["bounds_m3"]),
                tuple(int(p) for p in prices) if prices is not None else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"bad tier table: {err}") from err


def from_billing(tariff) -> TierTable:
    """The tier table of a billing.tariffs.Tariff (billing owns prices; VEE needs bounds and prices)."""
    if getattr(tariff, "year_start_month", 1) != 1:
        raise ValueError(
            f"tariff {tariff.code}: tier years starting in month {tariff.year_start_month} are not supported"
        )
    bounds = tuple(float(t.up_to_m3) for t in tariff.tiers[:-1])
    prices = tuple(int((t.yuan_per_m3 * 100).to_integral_value()) for t in tariff.tiers)
    return TierTable(tariff.code, tariff.period, bounds, prices)


def table_for(code: str) -> TierTable:
    """The named tier table: billing's tariff when billing knows it, else VEE's built-in table."""
    try:
        from billing.tariffs import tariff_for

        return from_billing(tariff_for(code))
    except (ImportError, KeyError):
        if code in TABLES:
            return TABLES[code]
        raise ValueError(f"unknown tier table {code!r}: one of {sorted(TABLES)}") from None


# Residential tiers (prices are examples in fen/m³; the bounds are the cities' published tiers).
BEIJING = TierTable("beijing", "annual", (180, 260), (500, 700, 900))
SHANGHAI = TierTable("shanghai", "annual", (220, 300), (345, 483, 522))
GUANGZHOU = TierTable("guangzhou", "monthly", (21, 27), (198, 297, 396))
TABLES = {t.name: t for t in (BEIJING, SHANGHAI, GUANGZHOU)}


@dataclass(frozen=True, slots=True)
class Determinants:
    """What a bill needs for one period."""

    start_s: int
    stop_s: int
    volume_ml: int
    tier_ml: list[int]
    charge_fen: int | None
    estimated: bool
    edited: bool


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown IANA time zone {name!r}") from err


def tier_period_start(t_s: int, table: TierTable, tz: ZoneInfo) -> int:
    """Start of the tier period holding instant t_s (periods are (start, end], like consumption)."""
    local = datetime.fromtimestamp(t_s - 1, tz)  # the instant at a boundary belongs to the period it ends
    first = local.replace(
        month=1 if table.period == "annual" else local.month, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return int(first.timestamp())


def _next_period(start_s: int, table: TierTable, tz: ZoneInfo) -> int:
    local = datetime.fromtimestamp(start_s, tz)
    if table.period == "annual":
        nxt = local.replace(year=local.year + 1)
    else:
        nxt = local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
    return int(nxt.timestamp())


def split_tiers(before_ml: int, used_ml: int, bounds_ml: list[int]) -> list[int]:
    """Split `used_ml` over tiers, given `before_ml` already used in the same tier period."""
    lows = [0, *bounds_ml]
    highs = [*bounds_ml, before_ml + used_ml]
    end = before_ml + used_ml
    return [
        max(0, min(end, hi) - max(before_ml, lo)) if hi > lo else 0
        for lo, hi in zip(lows, highs, strict=True)
    ]


def determinants(
    series: Series, start_s: int, stop_s: int, table: TierTable, tz_name: str, tiers_from_s: int | None = None
) -> Determinants:
    """Volume per tier for (start_s, stop_s]; tiers count from the tier period's start (or tiers_from_s)."""
    if stop_s <= start_s:
        raise ValueError("stop must be after start")
    tz = zone(tz_name)
    tiers = [0] * (len(table.bounds_m3) + 1)
    t = start_s
    while t < stop_s:
        p_start = tier_period_start(t + 1, table, tz)
        p_end = min(_next_period(p_start, table, tz), stop_s)
        before = series.consumption(max(p_start, tiers_from_s or p_start), t)
        part = split_tiers(before, series.consumption(t, p_end), table.bounds_ml)
        tiers = [a + b for a, b in zip(tiers, part, strict=True)]
        t = p_end
    charge = None
    if table.prices_fen_per_m3 is not None:
        milli_fen = sum(v * p for v, p in zip(tiers, table.prices_fen_per_m3, strict=True))
        charge = (milli_fen + ML_PER_M3 // 2) // ML_PER_M3  # round half up to whole fen
    return Determinants(
        start_s,
        stop_s,
        series.consumption(start_s, stop_s),
        tiers,
        charge,
        series.uses_estimates(start_s, stop_s),
        series.uses_edits(start_s, stop_s),
    )


def month_bounds(year: int, month: int, tz_name: str) -> tuple[int, int]:
    """(start, stop) instants of a calendar month in a time zone."""
    tz = zone(tz_name)
    start = datetime(year, month, 1, tzinfo=tz)
    stop = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp()), int(stop.timestamp())
