"""Time zones: IANA names only, DST-correct; instants are whole UTC epoch seconds.

The utility's zone comes from its tariff record (core/tariffs.json `zone`), an account may carry its
own; DEFAULT_TZ is what settings fall back to. Nothing here freezes a UTC offset: every conversion
asks the zone about the instant at hand.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import Invalid

DEFAULT_TZ = "Asia/Shanghai"
UTC_TZ = "UTC"


class UnknownZone(Invalid):
    """Not an IANA time zone name."""


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; UnknownZone naming it otherwise."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise UnknownZone(f"{str(name)[:64]!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise UnknownZone(f"{name!r} is not an IANA time zone") from err


def check_zone(name: str) -> str:
    """The name itself if it is an IANA zone (for settings validators)."""
    zone(name)
    return name


def local(t_s: int, tz: ZoneInfo) -> datetime:
    """The instant as an aware local datetime."""
    return datetime.fromtimestamp(t_s, tz)


def utc_offset_s(t_s: int, tz: ZoneInfo) -> int:
    """The zone's offset from UTC at that instant, seconds (changes at DST)."""
    off = local(t_s, tz).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def local_date(t_s: int, tz: ZoneInfo) -> date:
    """The local calendar date of an instant."""
    return local(t_s, tz).date()


def midnight_s(d: date, tz: ZoneInfo) -> int:
    """The first instant of a local day (a midnight inside a DST gap resolves to the day's first instant)."""
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def day_bounds_s(d: date, tz: ZoneInfo) -> tuple[int, int]:
    """(start, stop) instants of a local day: 23, 24 or 25 hours long."""
    return midnight_s(d, tz), midnight_s(d + timedelta(days=1), tz)


def next_month(d: date) -> date:
    """The first day of the month after d's."""
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def month_bounds_s(year: int, month: int, tz: ZoneInfo) -> tuple[int, int]:
    """(start, stop) instants of a local calendar month."""
    first = date(year, month, 1)
    return midnight_s(first, tz), midnight_s(next_month(first), tz)
