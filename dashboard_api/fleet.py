"""Fleet-wide views for the utility: top consumers and silent meters."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard_api.influxql import InfluxQL
from ingest.store.base import Store
from ingest.store.lineproto import MEASUREMENT


@dataclass(frozen=True, slots=True)
class Consumer:
    meter: str
    used_ml: int


@dataclass(frozen=True, slots=True)
class Silent:
    meter: str
    last_ts_s: int


def silent_meters(store: Store, now_s: int, hours: float) -> list[Silent]:
    """Meters whose latest reading is older than `hours`, longest silent first."""
    cutoff = now_s - hours * 3600
    found = [Silent(m.meter, m.last_ts_s) for m in store.meters() if m.last_ts_s < cutoff]
    return sorted(found, key=lambda s: (s.last_ts_s, s.meter))


def _lasts(ql: InfluxQL, where: str, fn: str = "last") -> dict[str, int]:
    rows = ql.series(f'SELECT {fn}("total_l") FROM "{MEASUREMENT}" WHERE {where} GROUP BY "meter"')
    return {tags["meter"]: round(values[0][1] * 1000) for tags, values in rows if values}


def top_consumers(store: Store, ql: InfluxQL | None, start_s: int, stop_s: int, limit: int) -> list[Consumer]:
    """Register at stop minus register at start, per meter; a meter whose register went down counts 0.

    A meter first seen inside the range counts from its first reading there. Three fleet-wide
    queries on InfluxDB; one small query per meter and bound on other stores.
    """
    if ql is not None:
        at_stop = _lasts(ql, f"time <= {stop_s}s")
        at_start = _lasts(ql, f"time <= {start_s}s")
        first_in = _lasts(ql, f"time > {start_s}s AND time <= {stop_s}s", "first")
    else:
        at_stop, at_start, first_in = {}, {}, {}
        for m in store.meters():
            for target, value in (
                (at_stop, store.last_at_or_before(m.meter, stop_s)),
                (at_start, store.last_at_or_before(m.meter, start_s)),
                (first_in, store.first_after(m.meter, start_s, stop_s)),
            ):
                if value is not None:
                    target[m.meter] = value
    out = []
    for meter, end_ml in at_stop.items():
        base = at_start.get(meter, first_in.get(meter))
        if base is not None:
            out.append(Consumer(meter, max(end_ml - base, 0)))
    out.sort(key=lambda c: (-c.used_ml, c.meter))
    return out[:limit]
