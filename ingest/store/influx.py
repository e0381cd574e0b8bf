"""InfluxDB store over the HTTP endpoints every major version serves: /write and /query.

influxdb-client's WriteApi posts only to /api/v2/write, which InfluxDB 1.x lacks (404 on
the 1.6.7 tested here), retries then drops batches, and has no backpressure; so writes go
to /write (line protocol) and reads to /query (InfluxQL). Both exist on 1.x, on 2.x
(v1 compatibility API; database = bucket, DBRP mapping automatic since 2.4) and on 3.x.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlparse

import httpx
import orjson

from ingest.model import Reading, Rejection
from ingest.store.base import Bucket, MeterSummary, StoreError
from ingest.store.lineproto import (
    FLOW_FIELD,
    HOUR_S,
    MEASUREMENT,
    REJECT_MEASUREMENT,
    ROLLUP_META,
    flow_line,
    flow_lpm,
    hour_of,
    reading_line,
    rejection_line,
    rollup_line,
)

log = logging.getLogger(__name__)

_M = MEASUREMENT
# Newest written reading per meter, so in-order batches need no look-up to compute flow_lpm.
MAX_CACHED_METERS = 200_000
# Meters looked up per /query request (3 statements each) when the cache cannot answer.
LOOKUP_METERS_PER_QUERY = 100


def marker_line() -> str:
    """The point that says roll-ups are complete (docs/schema.md)."""
    return f"{ROLLUP_META} complete=true {int(time.time())}"


def _q(meter: str) -> str:
    return meter.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(slots=True)
class _Hour:
    """A meter's hourly roll-up as far as written: what the next in-order batch extends."""

    hour_s: int  # the hour (hour_s, hour_s + 3600]
    last_total_ml: int
    peak_lpm: float | None
    n: int

    def line(self, meter: str) -> str:
        """This hour as a `usage_1h` line."""
        return rollup_line(meter, self.hour_s, self.last_total_ml, self.peak_lpm, self.n)


def _hour_stats(meter: str, time_range: str) -> str:
    """Last total, peak flow and count of a meter's readings in a time range (one roll-up's worth)."""
    return (
        f'SELECT last("total_l"), max("{FLOW_FIELD}"), count("total_l") FROM "{_M}" '
        f"WHERE \"meter\"='{_q(meter)}' AND {time_range}"
    )


def _extend_hours(prev: tuple[int, int] | None, hour: _Hour | None, batch: list[Reading]) -> list[_Hour]:
    """Roll-ups of the hours an in-order batch touches.

    `prev` is the stored (ts, total) just before the batch (None: the meter's first reading);
    `hour` the roll-up of batch[0]'s hour as stored before the batch, or None when that hour holds
    nothing yet. The caller vouches that nothing is stored after prev.
    """
    cur = replace(hour) if hour is not None else None
    out: list[_Hour] = []
    for r in batch:
        h = hour_of(r.ts_s)
        if cur is None or cur.hour_s != h:
            cur = _Hour(h, r.total_ml, None, 0)
        if not out or out[-1] is not cur:
            out.append(cur)
        if prev is not None:
            flow = flow_lpm(prev[0], prev[1], r.ts_s, r.total_ml)
            cur.peak_lpm = flow if cur.peak_lpm is None else max(cur.peak_lpm, flow)  # as InfluxDB's max()
        cur.n += 1
        cur.last_total_ml = r.total_ml
        prev = (r.ts_s, r.total_ml)
    return out


def _closed_lines(meter: str, touched: list[_Hour]) -> list[str]:
    """Roll-up lines of every touched hour but the last, which stays open (in memory) until a
    reading of a later hour closes it: one line per meter and hour, not one per reading."""
    return [h.line(meter) for h in touched[:-1]]


class InfluxStore:
    """Readings in one InfluxDB database (1.x) or bucket (2.x) or database (3.x)."""

    def __init__(
        self,
        base_url: str,
        database: str,
        version: int = 1,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 30.0,
        create_database: bool = True,
    ):
        if version not in (1, 2, 3):
            raise ValueError("InfluxDB version must be 1, 2 or 3")
        self.database = database
        self.version = version
        headers = {}
        auth = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:
            auth = httpx.BasicAuth(username, password or "")
        self._reject_seq = 0
        self._newest: dict[str, Reading] = {}
        self._hours: dict[str, _Hour] = {}  # roll-up of each cached newest reading's hour
        self._marker_checked = False
        self._http = httpx.Client(base_url=base_url, headers=headers, auth=auth, timeout=timeout_s)
        if create_database and version == 1:
            self._query(f'CREATE DATABASE "{database}"', method="POST")

    @classmethod
    def from_url(cls, url: str) -> InfluxStore:
        """influx://[user:pass@]host:port/db · influx2://host:port/bucket?token=T · influx3://…?token=T."""
        p = urlparse(url)
        params = {k: v[-1] for k, v in parse_qs(p.query).items()}
        version = {"influx2": 2, "influx3": 3}.get(p.scheme, 1)
        database = p.path.lstrip("/") or "water"
        scheme = "https" if params.get("tls") in ("1", "true") else "http"
        port = p.port or 8086
        return cls(
            f"{scheme}://{p.hostname}:{port}",
            database,
            version=version,
            token=params.get("token"),
            username=p.username,
            password=p.password,
        )

    # -- HTTP ------------------------------------------------------------------------
    def _write(self, lines: list[str], precision: str) -> None:
        if not lines:
            return
        body = "\n".join(lines).encode()
        try:
            resp = self._http.post(
                "/write", params={"db": self.database, "precision": precision}, content=body
            )
        except httpx.HTTPError as err:
            raise StoreError(f"InfluxDB write failed: {err}") from err
        if resp.status_code != 204:
            raise StoreError(f"InfluxDB write answered {resp.status_code}: {resp.text[:300]}")

    def _query(self, q: str, method: str = "GET", epoch: str = "s") -> list[dict]:
        params = {"db": self.database, "q": q, "epoch": epoch}
        try:
            if method == "POST":
                resp = self._http.post("/query", params=params)
            else:
                resp = self._http.get("/query", params=params)
        except httpx.HTTPError as err:
            raise StoreError(f"InfluxDB query failed: {err}") from err
        if resp.status_code != 200:
            raise StoreError(f"InfluxDB query answered {resp.status_code}: {resp.text[:300]}")
        results = orjson.loads(resp.content).get("results", [])
        for res in results:
            if "error" in res:
                raise StoreError(f"InfluxDB query error: {res['error']}")
        return results

    def _statements(self, stmts: list[str]) -> list[dict]:
        """One result per statement, all sent in one /query request."""
        res = self._query(";".join(stmts))
        if len(res) != len(stmts):
            raise StoreError(f"InfluxDB answered {len(res)} of {len(stmts)} statements")
        return res

    @staticmethod
    def _rows(result: dict) -> list[tuple[dict, list]]:
        return [(s.get("tags", {}), s["values"]) for s in result.get("series", [])]

    # -- Store contract -----------------------------------------------------------------
    def write_readings(self, readings) -> None:
        by_meter: dict[str, dict[int, Reading]] = {}
        if not readings:
            return
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
        self._write(lines, "s")
        # Hours the batch changed out of order are re-read from the readings just written.
        for meter, h in self.rebuild_rollups(reroll).items():
            hours.setdefault(meter, h)
        for meter, r in newest.items():
            self._newest.pop(meter, None)
            self._hours.pop(meter, None)
            if r is not None:
                self._newest[meter] = r
                open_hour = hours.get(meter)
                if open_hour is not None and open_hour.hour_s == hour_of(r.ts_s):
                    self._hours[meter] = open_hour
        while len(self._newest) > MAX_CACHED_METERS:
            oldest = next(iter(self._newest))
            del self._newest[oldest]
            self._hours.pop(oldest, None)

    def rebuild_rollups(self, spans: list[tuple[str, int, int]]) -> dict[str, _Hour]:
        """Recompute the hourly roll-ups of each (meter, first ts, last ts) from the readings stored.

        Returns each meter's last rebuilt hour. One /query and one /write per 100 meters.
        """
        last: dict[str, _Hour] = {}
        for i in range(0, len(spans), LOOKUP_METERS_PER_QUERY):
            chunk = spans[i : i + LOOKUP_METERS_PER_QUERY]
            res = self._statements(
                [
                    _hour_stats(meter, f"time > {hour_of(lo)}s AND time <= {hour_of(hi) + HOUR_S}s")
                    + f" GROUP BY time({HOUR_S}s, 1s) fill(none)"
                    for meter, lo, hi in chunk
                ]
            )
            lines = []
            for (meter, _lo, _hi), result in zip(chunk, res, strict=True):
                for _tags, rows in self._rows(result):
                    for t, total_l, peak, n in rows:
                        if total_l is None:
                            continue
                        h = _Hour(int(t) - 1, round(total_l * 1000), peak, int(n))
                        lines.append(h.line(meter))
                        last[meter] = h
            self._write(lines, "s")
        return last

    def _marker_lines(self) -> list[str]:
        """The roll-up marker, once, when this store starts an empty database (else none).

        A database that already holds readings from before roll-ups existed gets its marker from
        `python -m ingest.rollup` (the backfill); until then the API reads raw readings.
        """
        if self._marker_checked:
            return []
        res = self._query("SHOW MEASUREMENTS")
        names = {row[0] for _tags, rows in self._rows(res[0]) for row in rows} if res else set()
        self._marker_checked = True
        if ROLLUP_META in names:
            return []
        if MEASUREMENT in names:
            log.warning("readings without hourly roll-ups: run `python -m ingest.rollup` once")
            return []
        return [marker_line()]

    def reading_spans(self) -> list[tuple[str, int, int]]:
        """(meter, first ts, last ts) of every meter with readings."""
        spans = []
        for fn in ("first", "last"):
            res = self._query(f'SELECT {fn}("total_l") FROM "{_M}" GROUP BY "meter"')
            spans.append({tags["meter"]: int(rows[0][0]) for tags, rows in self._rows(res[0])} if res else {})
        first, last = spans
        return [(m, first[m], last[m]) for m in sorted(first)]

    def has_rollups(self) -> bool:
        """Whether every hour of readings has its roll-up (the marker is present)."""
        res = self._query(f'SELECT * FROM "{ROLLUP_META}" LIMIT 1')
        return bool(res and self._rows(res[0]))

    def _neighbours(self, chunk: list[tuple[str, list[Reading]]]) -> list[tuple[list, list, list]]:
        """Per meter: the stored point before its batch, stored points within it, the one after."""
        stmts = []
        for meter, batch in chunk:
            where = f'FROM "{_M}" WHERE "meter"=\'{_q(meter)}\' AND '
            lo, hi = batch[0].ts_s, batch[-1].ts_s
            stmts += [
                f'SELECT last("total_l") {where}time < {lo}s',
                f'SELECT "total_l" {where}time >= {lo}s AND time <= {hi}s',
                f'SELECT first("total_l") {where}time > {hi}s',
            ]
        res = self._statements(stmts)
        points = [
            [(int(t), round(v * 1000)) for _tags, rows in self._rows(r) for t, v in rows if v is not None]
            for r in res
        ]
        return [tuple(points[k : k + 3]) for k in range(0, len(points), 3)]  # type: ignore[misc]

    def _partial_hours(self, firsts: list[tuple[str, int]]) -> dict[str, _Hour]:
        """Per (meter, ts): the roll-up of its stored readings in ts's hour before ts (one request)."""
        if not firsts:
            return {}
        res = self._statements(
            [_hour_stats(meter, f"time > {hour_of(ts)}s AND time < {ts}s") for meter, ts in firsts]
        )
        out = {}
        for (meter, ts), result in zip(firsts, res, strict=True):
            for _tags, rows in self._rows(result):
                _t, total_l, peak, n = rows[0]
                if total_l is not None and n:
                    out[meter] = _Hour(hour_of(ts), round(total_l * 1000), peak, int(n))
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
        """Raw line protocol (benchmarks compare the pipeline against this)."""
        self._write(lines, precision)

    def write_rejections(self, rejections: list[Rejection]) -> None:
        # A dead-letter point's identity is reason + time: make each time unique so two
        # messages refused in the same microsecond are both kept.
        lines = []
        for rej in rejections:
            self._reject_seq = (self._reject_seq + 1) % 1000
            lines.append(rejection_line(rej, int(rej.received_s * 1e6) * 1000 + self._reject_seq))
        self._write(lines, "ns")

    def rejections(self, limit: int = 100) -> list[Rejection]:
        res = self._query(
            f'SELECT "topic","detail","payload","reason" FROM "{REJECT_MEASUREMENT}" '
            f"ORDER BY time DESC LIMIT {int(limit)}",
            epoch="u",
        )
        out = []
        for _tags, values in self._rows(res[0]):
            for t, topic, detail, payload, reason in values:
                out.append(Rejection(topic, reason, detail, (payload or "").encode(), t / 1e6))
        return out

    def meters(self) -> list[MeterSummary]:
        res = self._query(f'SELECT last("total_l") FROM "{_M}" GROUP BY "meter"')
        return (
            sorted(
                (MeterSummary(tags["meter"], int(values[0][0]), round(values[0][1] * 1000)))
                for tags, values in self._rows(res[0])
            )
            if res
            else []
        )

    def last_at_or_before(self, meter: str, t_s: int) -> int | None:
        res = self._query(
            f'SELECT last("total_l") FROM "{_M}" WHERE "meter"=\'{_q(meter)}\' AND time <= {int(t_s)}s'
        )
        rows = self._rows(res[0])
        return round(rows[0][1][0][1] * 1000) if rows else None

    def first_after(self, meter: str, t_s: int, stop_s: int) -> int | None:
        res = self._query(
            f'SELECT first("total_l") FROM "{_M}" WHERE "meter"=\'{_q(meter)}\' '
            f"AND time > {int(t_s)}s AND time <= {int(stop_s)}s"
        )
        rows = self._rows(res[0])
        return round(rows[0][1][0][1] * 1000) if rows else None

    def bucket_lasts(self, meter: str, start_s: int, stop_s: int, every_s: int) -> list[Bucket]:
        # GROUP BY time buckets are [b, b+every); offsetting them by start+1 s turns them
        # into (start+k*every, start+(k+1)*every] for whole-second timestamps.
        offset_s = (start_s + 1) % every_s
        res = self._query(
            f'SELECT last("total_l") FROM "{_M}" WHERE "meter"=\'{_q(meter)}\' AND time > {int(start_s)}s '
            f"AND time <= {int(stop_s)}s GROUP BY time({int(every_s)}s, {offset_s}s) fill(none)"
        )
        rows = self._rows(res[0])
        return [Bucket(int(t) - 1, round(v * 1000)) for t, v in rows[0][1]] if rows else []

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        res = self._query(
            f'SELECT "total_l","seq","boot","source" FROM "{_M}" WHERE "meter"=\'{_q(meter)}\' '
            f"AND time > {int(start_s)}s AND time <= {int(stop_s)}s"
        )
        out = []
        for _tags, values in self._rows(res[0]) if res else []:
            for t, total_l, seq, boot, source in values:
                out.append(
                    Reading(
                        meter,
                        int(t),
                        round(total_l * 1000),
                        int(seq or 0),
                        int(boot or 0),
                        source or "device",
                    )
                )
        return out

    def count_readings(self, meter: str) -> int:
        res = self._query(f'SELECT count("total_l") FROM "{_M}" WHERE "meter"=\'{_q(meter)}\'')
        rows = self._rows(res[0])
        return int(rows[0][1][0][1]) if rows else 0

    def count_all_readings(self) -> int:
        res = self._query(f'SELECT count("total_l") FROM "{_M}"')
        rows = self._rows(res[0])
        return int(rows[0][1][0][1]) if rows else 0

    def ping(self, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self._http.get("/ping").status_code == 204:
                    return True
            except httpx.HTTPError:
                pass  # not up yet
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._http.close()
