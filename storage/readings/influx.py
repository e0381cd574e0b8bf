"""InfluxDB store: readings, their hourly span roll-ups and the dead-letter list over /write and /query.

Writes keep two derived things current in the same /write request as the readings (docs/schema.md):
each reading's `flow_lpm` (L/min since the meter's previous reading) and the hourly roll-up
`usage_1h` whose fields are the hour's `Span` (core.consumption). An in-order batch (the cached
newest reading is its predecessor) extends the cached open hour without a query; any other batch
has the hours it touches recomputed from the stored readings right after the write.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

from core.consumption import Mark, Span
from core.readings import BOOTED_SOURCES, Reading, Rejection, Source, parse_source
from core.units import HOUR_S
from storage.readings.base import MeterSummary, StoreError, flow_lpm, spans_by_step
from storage.readings.conn import InfluxConnection, Rows, quote, records
from storage.readings.lineproto import (
    FLOW_FIELD,
    MEASUREMENT,
    REJECT_FROM,
    ROLLUP_META,
    ROLLUP_VERSION,
    flow_line,
    hour_of,
    marker_line,
    reading_line,
    rejection_line,
)
from storage.readings.stream import OpenHour as _Hour
from storage.readings.stream import _closed_lines, _extend_hours, hours_of

log = logging.getLogger(__name__)

_M = MEASUREMENT
# Newest written reading per meter, so in-order batches need no look-up to compute flow_lpm.
MAX_CACHED_METERS = 200_000
# Meters looked up per /query request (3 statements each) when the cache cannot answer.
LOOKUP_METERS_PER_QUERY = 100
# Hours of raw readings re-read per /query request when roll-ups are rebuilt (minute data: 120k rows).
REBUILD_HOURS_PER_QUERY = 2000
READING_FIELDS = f'"total_l","seq","boot","source","confidence","{FLOW_FIELD}"'
DEAD_LETTER_RP = "deadletters"  # the retention policy of `rejected` (storage.config: rejected_retention)
# What the consumption rule needs of each reading, in this order (hot paths parse rows by position).
MARK_FIELDS = f'"total_l","boot","source","{FLOW_FIELD}"'


@lru_cache(maxsize=256)
def _booted(source: str | None) -> bool:
    """Whether readings of this stored source text carry a boot counter."""
    if source is None:
        return True  # written before `source` existed: device readings
    try:
        return parse_source(source)[0] in BOOTED_SOURCES
    except ValueError:
        return False


def marks_with_flows(rows: Rows) -> list[tuple[Mark, float | None]]:
    """(Mark, stored flow) of each row of a `SELECT MARK_FIELDS` answer, in time order."""
    out: list[tuple[Mark, float | None]] = []
    append = out.append
    for _tags, _cols, values in rows:
        for t, total_l, boot, source, flow in values:
            if total_l is None:
                continue
            b = int(boot) if boot is not None and _booted(source) else None
            append((Mark(int(t), round(total_l * 1000), b), flow))
    return out


def reading_of(meter: str, f: dict[str, Any]) -> Reading:
    """A Reading from a stored point's fields (old `photo:<confidence>` sources included)."""
    try:
        source, legacy_conf = parse_source(f.get("source") or Source.DEVICE.value)
    except ValueError as err:
        raise StoreError(f"stored reading of {meter} at {f.get('time')}: {err}") from err
    conf = f.get("confidence")
    return Reading(
        meter,
        int(f["time"]),
        round(f["total_l"] * 1000),
        int(f.get("seq") or 0),
        int(f.get("boot") or 0),
        source,
        float(conf) if conf is not None else legacy_conf,
    )


def _with_flows(meter: str, rows: Rows) -> list[tuple[Reading, float | None]]:
    return [
        (reading_of(meter, f), f.get(FLOW_FIELD))
        for _tags, f in records(rows)
        if f.get("total_l") is not None
    ]


class InfluxStore:
    """Readings in one InfluxDB database (1.x) or bucket (2.x) or database (3.x)."""

    def __init__(
        self, conn: InfluxConnection | str, database: str | None = None, create_database: bool = True
    ):
        """`InfluxStore(conn)`; `InfluxStore(base_url, database)` (1.x, no auth) is kept for one release."""
        if isinstance(conn, str):
            if database is None:
                raise ValueError("InfluxStore(base_url, database): name the database")
            conn = InfluxConnection(conn, database)
        self.conn = conn
        self.database = conn.database
        self._reject_seq = 0
        self._newest: dict[str, Reading] = {}
        self._hours: dict[str, _Hour] = {}  # roll-up of each cached newest reading's hour
        self._marker_checked = False
        self._rp_checked: float | None = None
        self._rp_dead: str | None = None
        if create_database and conn.version == 1:
            try:
                conn.statements([f'CREATE DATABASE "{conn.database}"'], method="POST")
            except StoreError as err:
                # A least-privilege user (auth on) may not create databases: the admin made it.
                if "requires admin privilege" not in str(err):
                    raise

    @classmethod
    def from_url(cls, url: str) -> InfluxStore:
        """influx://[user:pass@]host:port/db · influx2://host:port/bucket?token=T · influx3://…?token=T."""
        return cls(InfluxConnection.from_url(url))

    @classmethod
    def at(cls, base_url: str, database: str) -> InfluxStore:
        """A store on a 1.x server without authentication (tests, benchmarks)."""
        return cls(InfluxConnection(base_url, database))

    def _series(self, q: str, epoch: str = "s") -> Rows:
        return self.conn.series(q, epoch=epoch)

    # -- writes ------------------------------------------------------------------------------
    def write_readings(self, readings: list[Reading]) -> None:
        """Write readings with their flows and roll-ups, then re-read the hours written out of order."""
        self.write_late(readings)

    def write_stream(self, lines: list[str]) -> None:
        """Lines built by storage.readings.stream (the ingest's in-order batches), in one /write."""
        self.conn.write(lines + self._marker_lines(), "s")

    def write_late(self, readings: list[Reading]) -> dict[str, _Hour]:
        """`write_readings` for readings that may land before stored ones (the query path).

        Returns each meter's last roll-up hour that was rebuilt from the stored readings, so a caller
        that keeps the meter's open hour (the ingest) can take it over.
        """
        if not readings:
            return {}
        by_meter: dict[str, dict[int, Reading]] = {}
        for r in readings:
            by_meter.setdefault(r.meter, {})[r.ts_s] = r  # same (meter, ts) twice: the last one is kept
        lines: list[str] = []
        newest: dict[str, Reading | None] = {}
        hours: dict[str, _Hour] = {}
        misses = []
        reroll: list[tuple[str, int, int]] = []  # (meter, first, last ts) whose hours are re-read
        for meter, rows in by_meter.items():
            batch = [rows[t] for t in sorted(rows)]
            cached = self._newest.get(meter)
            # The cached reading is the true predecessor only when nothing can lie between them.
            if (
                cached is not None
                and cached.ts_s < batch[0].ts_s
                and cached.boot == batch[0].boot
                and batch[0].seq == cached.seq + 1
            ):
                lines += self._flow_lines([(cached.ts_s, cached.total_ml)], batch, [])
                newest[meter] = batch[-1]
                known = self._hours.get(meter)
                prev = (cached.ts_s, cached.total_ml)
                if known is None or known.hour_s != hour_of(cached.ts_s):
                    # The open hour's roll-up is not known here: re-read it with the batch's hours.
                    reroll.append((meter, cached.ts_s, batch[-1].ts_s))
                    continue
                if known.hour_s == hour_of(batch[0].ts_s):
                    touched = _extend_hours(prev, known, batch)
                else:  # the batch closes the open hour
                    touched = [known, *_extend_hours(prev, None, batch)]
                lines += _closed_lines(meter, touched)
                hours[meter] = touched[-1]
            else:
                misses.append((meter, batch))
        for i in range(0, len(misses), LOOKUP_METERS_PER_QUERY):
            chunk = misses[i : i + LOOKUP_METERS_PER_QUERY]
            found = self._neighbours(chunk)
            # In order after a stored reading of the same hour: that hour's roll-up so far is needed.
            partials = self._partial_hours(
                [
                    (meter, batch[0].ts_s)
                    for (meter, batch), (before, stored, after) in zip(chunk, found, strict=True)
                    if before and not stored and not after and hour_of(before[0][0]) == hour_of(batch[0].ts_s)
                ]
            )
            for (meter, batch), (before, stored, after) in zip(chunk, found, strict=True):
                lines += self._flow_lines(before + stored, batch, after)
                newest[meter] = None if after else batch[-1]
                # The hour of the point before may have been left open by another process.
                lo = before[0][0] if before else batch[0].ts_s
                if stored or after:
                    # Out of order: the hours it lands in, and the hour of the point after it
                    # (whose flow it rewrites), are re-read once the batch is stored.
                    reroll.append((meter, lo, after[0][0] if after else batch[-1].ts_s))
                    continue
                # In order after what is stored (a worker's first batch for the meter).
                touched = _extend_hours(before[0] if before else None, partials.get(meter), batch)
                lines += _closed_lines(meter, touched)
                hours[meter] = touched[-1]
                if hour_of(lo) != hour_of(batch[0].ts_s):
                    reroll.append((meter, lo, lo))
        lines += self._marker_lines()
        self.conn.write(lines, "s")
        # Hours the batch changed out of order are re-read from the readings just written.
        for meter, h in self.rebuild_rollups(reroll).items():
            hours.setdefault(meter, h)
        for meter, newest_r in newest.items():
            self._newest.pop(meter, None)
            self._hours.pop(meter, None)
            if newest_r is not None:
                self._newest[meter] = newest_r
                open_hour = hours.get(meter)
                if open_hour is not None and open_hour.hour_s == hour_of(newest_r.ts_s):
                    self._hours[meter] = open_hour
        while len(self._newest) > MAX_CACHED_METERS:
            oldest = next(iter(self._newest))
            del self._newest[oldest]
            self._hours.pop(oldest, None)
        return hours

    def tail_of(self, meter: str) -> tuple[Reading, _Hour | None] | None:
        """The newest stored reading of a meter and its hour's roll-up, as far as this store knows after a
        write (None when a later stored reading may exist): what the ingest takes over as its state."""
        newest = self._newest.get(meter)
        return None if newest is None else (newest, self._hours.get(meter))

    def stored_totals(self, wanted: dict[str, list[int]]) -> dict[tuple[str, int], int]:
        """The stored total (ml) at each asked (meter, ts) that has a reading; 100 meters per /query."""
        out: dict[tuple[str, int], int] = {}
        items = [(m, min(ts), max(ts)) for m, ts in wanted.items() if ts]
        for i in range(0, len(items), LOOKUP_METERS_PER_QUERY):
            chunk = items[i : i + LOOKUP_METERS_PER_QUERY]
            res = self.conn.statements(
                [
                    f'SELECT "total_l" FROM "{_M}" WHERE "meter"=\'{quote(m)}\' '
                    f"AND time >= {lo}s AND time <= {hi}s"
                    for m, lo, hi in chunk
                ]
            )
            for (m, _lo, _hi), rows in zip(chunk, res, strict=True):
                asked = set(wanted[m])
                for _tags, _cols, vals in rows:
                    for t, v in vals:
                        if v is not None and int(t) in asked:
                            out[(m, int(t))] = round(v * 1000)
        return out

    def is_empty(self) -> bool:
        """Whether no reading is stored yet (a new deployment)."""
        res = self._series("SHOW MEASUREMENTS")
        return MEASUREMENT not in {row[0] for _tags, _cols, rows in res for row in rows}

    def rebuild_rollups(self, spans: list[tuple[str, int, int]]) -> dict[str, _Hour]:
        """Recompute the hourly roll-ups of each (meter, first ts, last ts) from the readings stored.

        Returns each meter's last rebuilt hour. Reads the hours' readings (a span is not an InfluxQL
        aggregate), about REBUILD_HOURS_PER_QUERY hours per request, and writes their lines.
        """
        last: dict[str, _Hour] = {}
        chunk: list[tuple[str, int, int]] = []
        n_hours = 0
        for meter, lo, hi in spans:
            h = (hour_of(hi) - hour_of(lo)) // HOUR_S + 1
            if chunk and (n_hours + h > REBUILD_HOURS_PER_QUERY or len(chunk) >= LOOKUP_METERS_PER_QUERY):
                self._rebuild_chunk(chunk, last)
                chunk, n_hours = [], 0
            chunk.append((meter, lo, hi))
            n_hours += h
        if chunk:
            self._rebuild_chunk(chunk, last)
        return last

    def _rebuild_chunk(self, chunk: list[tuple[str, int, int]], last: dict[str, _Hour]) -> None:
        res = self.conn.statements(
            [
                f'SELECT {MARK_FIELDS} FROM "{_M}" WHERE "meter"=\'{quote(meter)}\' '
                f"AND time > {hour_of(lo)}s AND time <= {hour_of(hi) + HOUR_S}s"
                for meter, lo, hi in chunk
            ]
        )
        lines = []
        for (meter, _lo, _hi), rows in zip(chunk, res, strict=True):
            for h in hours_of(marks_with_flows(rows)):
                lines.append(h.line(meter))
                last[meter] = h
        self.conn.write(lines, "s")

    def _marker_lines(self) -> list[str]:
        """The roll-up marker, once, when this store starts an empty database (else none).

        A database that already holds readings from before (version 2) roll-ups existed gets its marker
        from `python -m ingest.rollup` (the backfill); until then the API reads raw readings.
        """
        if self._marker_checked:
            return []
        res = self._series("SHOW MEASUREMENTS")
        names = {row[0] for _tags, _cols, rows in res for row in rows}
        self._marker_checked = True
        if ROLLUP_META in names and self.has_rollups():
            return []
        if MEASUREMENT in names:
            log.warning("readings without span roll-ups (version 2): run `python -m ingest.rollup` once")
            return []
        return [marker_line(int(time.time()))]

    def write_marker(self) -> None:
        """Say every hour has its roll-up (the backfill's last step)."""
        self.conn.write([marker_line(int(time.time()))], "s")

    def reading_spans(self) -> list[tuple[str, int, int]]:
        """(meter, first ts, last ts) of every meter with readings."""
        spans = []
        for fn in ("first", "last"):
            res = self._series(f'SELECT {fn}("total_l") FROM "{_M}" GROUP BY "meter"')
            spans.append({tags["meter"]: int(vals[0][0]) for tags, _cols, vals in res})
        first, last = spans
        return [(m, first[m], last[m]) for m in sorted(first)]

    def has_rollups(self) -> bool:
        """Whether every hour of readings has its span roll-up (the version-2 marker is present)."""
        res = self._series(f'SELECT max("version") FROM "{ROLLUP_META}"')
        return bool(res and res[0][2] and (res[0][2][0][1] or 0) >= ROLLUP_VERSION)

    def _neighbours(self, chunk: list[tuple[str, list[Reading]]]) -> list[tuple[list, list, list]]:
        """Per meter: the stored point before its batch, stored points within it, the one after."""
        stmts = []
        for meter, batch in chunk:
            where = f'FROM "{_M}" WHERE "meter"=\'{quote(meter)}\' AND '
            lo, hi = batch[0].ts_s, batch[-1].ts_s
            stmts += [
                f'SELECT last("total_l") {where}time < {lo}s',
                f'SELECT "total_l" {where}time >= {lo}s AND time <= {hi}s',
                f'SELECT first("total_l") {where}time > {hi}s',
            ]
        res = self.conn.statements(stmts)
        points = [
            [(int(t), round(v * 1000)) for _tags, _cols, vals in r for t, v in vals if v is not None]
            for r in res
        ]
        return [(points[k], points[k + 1], points[k + 2]) for k in range(0, len(points), 3)]

    def _partial_hours(self, firsts: list[tuple[str, int]]) -> dict[str, _Hour]:
        """Per (meter, ts): the roll-up of its stored readings in ts's hour before ts (one request)."""
        if not firsts:
            return {}
        res = self.conn.statements(
            [
                f'SELECT {MARK_FIELDS} FROM "{_M}" WHERE "meter"=\'{quote(meter)}\' '
                f"AND time > {hour_of(ts)}s AND time < {ts}s"
                for meter, ts in firsts
            ]
        )
        out = {}
        for (meter, _ts), rows in zip(firsts, res, strict=True):
            found = hours_of(marks_with_flows(rows))
            if found:
                out[meter] = found[-1]
        return out

    @staticmethod
    def _flow_lines(stored: list[tuple[int, int]], batch: list[Reading], after: list) -> list[str]:
        """The batch's lines with flow_lpm, and flow-only lines for stored points it precedes."""
        mine = {r.ts_s: r for r in batch}
        timeline = dict(stored)
        timeline.update((r.ts_s, r.total_ml) for r in batch)
        timeline.update(after)
        lines = []
        prev: tuple[int, int] | None = None
        for t in sorted(timeline):
            total = timeline[t]
            flow: float | None = None if prev is None else flow_lpm(prev[0], prev[1], t, total)
            if t in mine:
                lines.append(reading_line(mine[t], flow))
            elif flow is not None and prev is not None and prev[0] in mine:
                lines.append(flow_line(batch[0].meter, t, flow))  # its predecessor is new
            prev = (t, total)
        return lines

    def write_lines(self, lines: list[str], precision: str = "s") -> None:
        """Raw line protocol (benchmarks compare the pipeline against this; bypasses roll-ups)."""
        self.conn.write(lines, precision)

    def write_rejections(self, rejections: list[Rejection]) -> None:
        """Dead-letter points, each at a distinct ns time (into the dead-letter policy once it exists)."""
        # A dead-letter point's identity is reason + time: make each time unique so two
        # messages refused in the same microsecond are both kept.
        lines = []
        for rej in rejections:
            self._reject_seq = (self._reject_seq + 1) % 1000
            lines.append(rejection_line(rej, int(rej.received_s * 1e6) * 1000 + self._reject_seq))
        self.conn.write(lines, "ns", rp=self._dead_letter_rp())

    # -- retention ----------------------------------------------------------------------------
    def _policies(self) -> set[str]:
        rows = self._series(f'SHOW RETENTION POLICIES ON "{self.database}"')
        return {row[0] for _tags, _cols, vals in rows for row in vals}

    def _dead_letter_rp(self) -> str | None:
        if self._rp_checked is None or time.monotonic() - self._rp_checked > 60:
            self._rp_checked = time.monotonic()
            self._rp_dead = DEAD_LETTER_RP if DEAD_LETTER_RP in self._policies() else None
        return self._rp_dead

    def apply_retention(self, readings: str = "INF", rejected: str = "90d") -> None:
        """Readings and their roll-ups kept for `readings` (the default policy), dead letters for `rejected`.

        InfluxQL durations (`90d`, `52w`, `INF`). Needs an admin user; StoreError otherwise. Roll-ups share
        the readings' policy: a usage query anchors on the last raw reading before its range
        (docs/consumption.md), so roll-ups without their readings could not answer exactly.
        """
        have = self._policies()
        verb = "ALTER" if DEAD_LETTER_RP in have else "CREATE"
        extra = "" if verb == "ALTER" else " REPLICATION 1"
        self.conn.statements(
            [
                f'ALTER RETENTION POLICY "autogen" ON "{self.database}" DURATION {readings}',
                f'{verb} RETENTION POLICY "{DEAD_LETTER_RP}" ON "{self.database}" DURATION {rejected}{extra}',
            ],
            method="POST",
        )
        self._rp_checked = None

    def retention(self) -> dict[str, str]:
        """Each retention policy of the database and its duration (InfluxDB's text, e.g. `2160h0m0s`)."""
        rows = self._series(f'SHOW RETENTION POLICIES ON "{self.database}"')
        return {row[0]: row[1] for _tags, _cols, vals in rows for row in vals}

    # -- reads -------------------------------------------------------------------------------
    def rejections(
        self, limit: int = 100, reason: str | None = None, meter: str | None = None
    ) -> list[Rejection]:
        """Most recent rejected messages, newest first; only of one reason and/or one meter if given."""
        where = []
        if reason is not None:
            where.append(f"\"reason\"='{quote(reason)}'")
        if meter is not None:
            where.append(f"\"meter\"='{quote(meter)}'")
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        # Dead letters written before the dead-letter policy existed stay in the default one: read both.
        sources = [REJECT_FROM] + ([f'"{rp}".{REJECT_FROM}'] if (rp := self._dead_letter_rp()) else [])
        found = [
            Rejection(f["topic"], f["reason"], f["detail"], (f["payload"] or "").encode(), f["time"] / 1e6)
            for res in self.conn.statements(
                [
                    f'SELECT "topic","detail","payload","reason" FROM {src} {clause}'
                    f"ORDER BY time DESC LIMIT {int(limit)}"
                    for src in sources
                ],
                epoch="u",
            )
            for _tags, f in records(res)
        ]
        return sorted(found, key=lambda r: r.received_s, reverse=True)[: int(limit)]

    def meters(self) -> list[MeterSummary]:
        """Every meter with its latest reading."""
        res = self._series(f'SELECT last("total_l") FROM "{_M}" GROUP BY "meter"')
        return sorted(
            MeterSummary(tags["meter"], int(vals[0][0]), round(vals[0][1] * 1000))
            for tags, _cols, vals in res
        )

    def last_reading(self, meter: str, t_s: int) -> Reading | None:
        """The latest reading at or before t_s."""
        res = self._series(
            f'SELECT last("total_l") AS total_l, "seq", "boot", "source", "confidence" FROM "{_M}" '
            f"WHERE \"meter\"='{quote(meter)}' AND time <= {int(t_s)}s"
        )
        found = [reading_of(meter, f) for _tags, f in records(res) if f.get("total_l") is not None]
        return found[0] if found else None

    def last_at_or_before(self, meter: str, t_s: int) -> int | None:
        """The total (ml) of the latest reading at or before t_s (kept for one release: use last_reading)."""
        r = self.last_reading(meter, t_s)
        return None if r is None else r.total_ml

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        """Every stored reading of a meter in (start_s, stop_s], in time order."""
        res = self._series(
            f'SELECT {READING_FIELDS} FROM "{_M}" WHERE "meter"=\'{quote(meter)}\' '
            f"AND time > {int(start_s)}s AND time <= {int(stop_s)}s"
        )
        return [r for r, _flow in _with_flows(meter, res)]

    def step_spans(
        self, meter: str, start_s: int, stop_s: int, step_s: int
    ) -> list[tuple[int, Span, float | None]]:
        """Per step holding readings: (step start, span, peak of the stored flows), from the readings."""
        res = self._series(
            f'SELECT {MARK_FIELDS} FROM "{_M}" WHERE "meter"=\'{quote(meter)}\' '
            f"AND time > {int(start_s)}s AND time <= {int(stop_s)}s"
        )
        return spans_by_step(marks_with_flows(res), start_s, step_s)

    def count_readings(self, meter: str) -> int:
        """Distinct stored readings of a meter."""
        res = self._series(f'SELECT count("total_l") FROM "{_M}" WHERE "meter"=\'{quote(meter)}\'')
        return int(res[0][2][0][1]) if res else 0

    def count_all_readings(self) -> int:
        """Distinct stored readings of every meter."""
        res = self._series(f'SELECT count("total_l") FROM "{_M}"')
        return int(res[0][2][0][1]) if res else 0

    def ping(self, timeout_s: float = 5.0) -> bool:
        """Whether InfluxDB answers /ping within the timeout."""
        return self.conn.ping(timeout_s)

    def close(self) -> None:
        """Close the HTTP client."""
        self.conn.close()
