"""Fleet-wide views: top consumers (by the one consumption rule) and silent meters."""

from __future__ import annotations

from dataclasses import dataclass

from core.consumption import DEFAULT_RULE, Rule, Span, mark, usage
from core.readings import BOOTED_SOURCES, Source, parse_source
from core.units import HOUR_S
from storage.readings.base import Store
from storage.readings.conn import InfluxConnection, records, regex_any
from storage.readings.flows import METERS_PER_REQUEST, InfluxFlows
from storage.readings.influx import marks_with_flows, reading_of
from storage.readings.lineproto import FLOW_FIELD, MEASUREMENT


@dataclass(frozen=True, slots=True)
class Consumer:
    """A meter and its use in the range."""

    meter: str
    used_ml: int


@dataclass(frozen=True, slots=True)
class Silent:
    """A meter and the time of its newest reading."""

    meter: str
    last_ts_s: int


def silent_meters(store: Store, now_s: int, hours: float) -> list[Silent]:
    """Meters whose latest reading is older than `hours`, longest silent first."""
    cutoff = now_s - hours * HOUR_S
    found = [Silent(m.meter, m.last_ts_s) for m in store.meters() if m.last_ts_s < cutoff]
    return sorted(found, key=lambda s: (s.last_ts_s, s.meter))


# Silent meters on InfluxDB first look this far before the cutoff: last() then reads only a
# day or so of points per meter instead of all of them; meters silent longer are looked up after.
SILENT_WINDOW_S = 86_400
SILENT_METERS_PER_QUERY = 500


def silent_meters_influx(ql: InfluxConnection, now_s: int, hours: float) -> list[Silent]:
    """silent_meters with InfluxDB's last() over a recent window, then over all time for the rest.

    Same answer as the Store version (a meter with any reading is listed by its newest one),
    but a fleet that reported within the window costs one short scan, not one of every point.
    """
    cutoff = now_s - hours * HOUR_S
    since = int(cutoff) - SILENT_WINDOW_S
    tags, recent = ql.statements(
        [
            f'SHOW TAG VALUES FROM "{MEASUREMENT}" WITH KEY = "meter"',
            f'SELECT last("total_l") FROM "{MEASUREMENT}" WHERE time > {since}s GROUP BY "meter"',
        ]
    )
    last_s = {t["meter"]: int(rows[0][0]) for t, _cols, rows in recent if rows}
    older = sorted({row[1] for _t, _cols, rows in tags for row in rows} - set(last_s))
    for i in range(0, len(older), SILENT_METERS_PER_QUERY):
        chunk = older[i : i + SILENT_METERS_PER_QUERY]
        for t, _cols, rows in ql.series(
            f'SELECT last("total_l") FROM "{MEASUREMENT}" WHERE "meter" =~ {regex_any(chunk)} '
            f'AND time <= {since}s GROUP BY "meter"'
        ):
            if rows:
                last_s[t["meter"]] = int(rows[0][0])
    found = [Silent(m, ts) for m, ts in last_s.items() if ts < cutoff]
    return sorted(found, key=lambda s: (s.last_ts_s, s.meter))


def _ranked(used: dict[str, int], limit: int) -> list[Consumer]:
    out = [Consumer(m, u) for m, u in used.items()]
    out.sort(key=lambda c: (-c.used_ml, c.meter))
    return out[:limit]


def top_consumers(
    store: Store, start_s: int, stop_s: int, limit: int, rule: Rule = DEFAULT_RULE
) -> list[Consumer]:
    """Use in (start, stop] per meter by the one rule (core.consumption), most first.

    A meter first seen inside the range counts from its first reading there. One small query per meter.
    """
    used: dict[str, int] = {}
    for m in store.meters():
        inside = store.readings(m.meter, start_s, stop_s)
        if not inside:
            continue
        anchor = store.last_reading(m.meter, start_s)
        used[m.meter] = usage(None if anchor is None else mark(anchor), [mark(r) for r in inside], rule)[0]
    return _ranked(used, limit)


def top_consumers_influx(
    ql: InfluxConnection, start_s: int, stop_s: int, limit: int, rule: Rule = DEFAULT_RULE
) -> list[Consumer]:
    """top_consumers in four fleet-wide statements, plus the readings of the meters they cannot settle.

    A meter whose readings in range all rose from their predecessor (every stored flow_lpm ≥ 0, one per
    reading) on one boot counter has no segment break and holds nothing back, so by the rule its use is
    its last total minus its anchor's (or its first's). Any other meter is folded from its readings.
    """
    rng = f"time > {start_s}s AND time <= {stop_s}s"
    anchors_res, last_res, first_res, checks_res = ql.statements(
        [
            f'SELECT last("total_l") AS total_l, "boot", "source" FROM "{MEASUREMENT}" '
            f'WHERE time <= {start_s}s GROUP BY "meter"',
            f'SELECT last("total_l") FROM "{MEASUREMENT}" WHERE {rng} GROUP BY "meter"',
            f'SELECT first("total_l") FROM "{MEASUREMENT}" WHERE {rng} GROUP BY "meter"',
            f'SELECT min("{FLOW_FIELD}"), count("{FLOW_FIELD}"), count("total_l"), min("boot"), max("boot") '
            f'FROM "{MEASUREMENT}" WHERE {rng} GROUP BY "meter"',
        ]
    )
    anchors = {tags["meter"]: f for tags, f in records(anchors_res) if f.get("total_l") is not None}
    last = {tags["meter"]: round(vals[0][1] * 1000) for tags, _c, vals in last_res if vals}
    first = {tags["meter"]: round(vals[0][1] * 1000) for tags, _c, vals in first_res if vals}
    used: dict[str, int] = {}
    slow: list[str] = []
    for tags, _c, vals in checks_res:
        meter = tags["meter"]
        if not vals or meter not in last:
            continue
        _t, min_flow, n_flow, n_total, min_boot, max_boot = vals[0]
        anchor = anchors.get(meter)
        anchor_boot = None
        if anchor is not None:
            source, _conf = parse_source(anchor.get("source") or Source.DEVICE.value)
            anchor_boot = anchor.get("boot") if source in BOOTED_SOURCES else None
        settled = (
            n_flow == n_total - (0 if anchor is not None else 1)
            and (n_flow == 0 or (min_flow is not None and min_flow >= 0))
            and min_boot == max_boot
            and (anchor_boot is None or anchor_boot == min_boot)
        )
        if settled:
            base = round(anchor["total_l"] * 1000) if anchor is not None else first[meter]
            used[meter] = last[meter] - base
        else:
            slow.append(meter)
    for i in range(0, len(slow), METERS_PER_REQUEST):
        chunk = slow[i : i + METERS_PER_REQUEST]
        res = ql.statements(
            [
                q
                for m in chunk
                for q in (
                    InfluxFlows.readings_statement(m, start_s, stop_s),
                    InfluxFlows.anchor_statement(m, start_s),
                )
            ]
        )
        for j, meter in enumerate(chunk):
            inside = [m for m, _flow in marks_with_flows(res[2 * j])]
            found = [
                reading_of(meter, f) for _t, f in records(res[2 * j + 1]) if f.get("total_l") is not None
            ]
            anchor_span = Span.of(mark(found[0])) if found else None
            used[meter] = usage(anchor_span, inside, rule)[0]
    return _ranked(used, limit)
