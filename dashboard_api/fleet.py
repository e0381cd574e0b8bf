"""Fleet-wide views for the utility: top consumers and silent meters."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard_api.influxql import InfluxQL, regex_any
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


# Silent meters on InfluxDB first look this far before the cutoff: last() then reads only a
# day or so of points per meter instead of all of them; meters silent longer are looked up after.
SILENT_WINDOW_S = 86_400
SILENT_METERS_PER_QUERY = 500


def silent_meters_influx(ql: InfluxQL, now_s: int, hours: float) -> list[Silent]:
    """silent_meters with InfluxDB's last() over a recent window, then over all time for the rest.

    Same answer as the Store version (a meter with any reading is listed by its newest one),
    but a fleet that reported within the window costs one short scan, not one of every point.
    """
    cutoff = now_s - hours * 3600
    since = int(cutoff) - SILENT_WINDOW_S
    tags, recent = ql.statements(
        [
            f'SHOW TAG VALUES FROM "{MEASUREMENT}" WITH KEY = "meter"',
            f'SELECT last("total_l") FROM "{MEASUREMENT}" WHERE time > {since}s GROUP BY "meter"',
        ]
    )
    last_s = {t["meter"]: int(rows[0][0]) for t, rows in recent if rows}
    older = sorted({row[1] for _t, rows in tags for row in rows} - set(last_s))
    for i in range(0, len(older), SILENT_METERS_PER_QUERY):
        chunk = older[i : i + SILENT_METERS_PER_QUERY]
        for t, rows in ql.series(
            f'SELECT last("total_l") FROM "{MEASUREMENT}" WHERE "meter" =~ {regex_any(chunk)} '
            f'AND time <= {since}s GROUP BY "meter"'
        ):
            if rows:
                last_s[t["meter"]] = int(rows[0][0])
    found = [Silent(m, ts) for m, ts in last_s.items() if ts < cutoff]
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
