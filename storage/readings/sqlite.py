"""Embedded store on SQLite: the same contract as InfluxDB, for `make demo` without influxd."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from core.consumption import Span, mark
from core.readings import Reading, Rejection, parse_source
from storage.readings.base import MeterSummary, StoreError, flow_lpm, spans_by_step

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    meter TEXT NOT NULL, ts_s INTEGER NOT NULL, total_ml INTEGER NOT NULL,
    seq INTEGER NOT NULL, boot INTEGER NOT NULL, source TEXT NOT NULL,
    confidence REAL,
    PRIMARY KEY (meter, ts_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
    received_s REAL NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BLOB NOT NULL
);
"""
_COLUMNS = "meter, ts_s, total_ml, seq, boot, source, confidence"


class SqliteStore:
    """Readings in one SQLite file; (meter, ts) is the primary key, so rewrites overwrite."""

    def __init__(self, path: str):
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            cols = {row[1] for row in self._db.execute("PRAGMA table_info(reading)")}
            if "confidence" not in cols:  # a file written before photo confidence had its own field
                self._db.execute("ALTER TABLE reading ADD COLUMN confidence REAL")
        except sqlite3.Error as err:
            raise StoreError(f"SQLite: cannot open {path!r}: {err}") from err

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"SQLite: {err}") from err

    @staticmethod
    def _reading(row: tuple[Any, ...]) -> Reading:
        meter, ts, total, seq, boot, source_text, conf = row
        try:
            source, legacy_conf = parse_source(source_text)
        except ValueError as err:
            raise StoreError(f"stored reading of {meter} at {ts}: {err}") from err
        return Reading(meter, ts, total, seq, boot, source, conf if conf is not None else legacy_conf)

    def write_readings(self, readings: list[Reading]) -> None:
        """Write in one transaction."""
        rows = [(r.meter, r.ts_s, r.total_ml, r.seq, r.boot, r.source.value, r.confidence) for r in readings]
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO reading VALUES (?,?,?,?,?,?,?)", rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as err:
            raise StoreError(f"SQLite write: {err}") from err

    def write_rejections(self, rejections: list[Rejection]) -> None:
        """Keep rejected messages (payload cut at 1 KiB)."""
        rows = [(r.received_s, r.topic, r.reason, r.detail, r.payload[:1024]) for r in rejections]
        try:
            with self._lock:
                self._db.executemany("INSERT INTO rejected VALUES (?,?,?,?,?)", rows)
        except sqlite3.Error as err:
            raise StoreError(f"SQLite write: {err}") from err

    def rejections(
        self, limit: int = 100, reason: str | None = None, meter: str | None = None
    ) -> list[Rejection]:
        """Most recent rejected messages, newest first; only of one reason and/or one meter if given."""
        where, params = [], []
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        if meter is not None:
            where.append("topic IN (?, ?)")  # device topics name their meter (docs/protocol.md)
            params += [f"wm/v1/{meter}/readings", meter]
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._exec(
            f"SELECT topic, reason, detail, payload, received_s FROM rejected {clause}"
            "ORDER BY received_s DESC LIMIT ?",
            (*params, limit),
        )
        return [Rejection(t, r, d, bytes(p), s) for t, r, d, p, s in rows]

    def stored_totals(self, wanted: dict[str, list[int]]) -> dict[tuple[str, int], int]:
        """The stored total (ml) at each asked (meter, ts) that has a reading."""
        out: dict[tuple[str, int], int] = {}
        for meter, stamps in wanted.items():
            for i in range(0, len(stamps), 500):
                chunk = stamps[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._exec(
                    f"SELECT ts_s, total_ml FROM reading WHERE meter=? AND ts_s IN ({marks})", (meter, *chunk)
                )
                out.update(((meter, t), v) for t, v in rows)
        return out

    def write_late(self, readings: list[Reading]) -> dict:
        """The same as write_readings here (nothing derived is stored)."""
        self.write_readings(readings)
        return {}

    def is_empty(self) -> bool:
        """Whether no reading is stored yet."""
        return not self._exec("SELECT 1 FROM reading LIMIT 1")

    def meters(self) -> list[MeterSummary]:
        """Every meter with its latest reading."""
        rows = self._exec(
            "SELECT r.meter, r.ts_s, r.total_ml FROM reading r JOIN "
            "(SELECT meter, MAX(ts_s) AS ts FROM reading GROUP BY meter) l "
            "ON r.meter = l.meter AND r.ts_s = l.ts ORDER BY r.meter"
        )
        return [MeterSummary(m, ts, total) for m, ts, total in rows]

    def last_reading(self, meter: str, t_s: int) -> Reading | None:
        """The latest reading at or before t_s."""
        rows = self._exec(
            f"SELECT {_COLUMNS} FROM reading WHERE meter=? AND ts_s<=? ORDER BY ts_s DESC LIMIT 1",
            (meter, t_s),
        )
        return self._reading(rows[0]) if rows else None

    def last_at_or_before(self, meter: str, t_s: int) -> int | None:
        """The total (ml) of the latest reading at or before t_s (kept for one release: use last_reading)."""
        r = self.last_reading(meter, t_s)
        return None if r is None else r.total_ml

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        """Every stored reading of a meter in (start_s, stop_s], in time order."""
        rows = self._exec(
            f"SELECT {_COLUMNS} FROM reading WHERE meter=? AND ts_s>? AND ts_s<=? ORDER BY ts_s",
            (meter, start_s, stop_s),
        )
        return [self._reading(row) for row in rows]

    def step_spans(
        self, meter: str, start_s: int, stop_s: int, step_s: int
    ) -> list[tuple[int, Span, float | None]]:
        """Per step holding readings: (step start, span, peak flow since each previous reading)."""
        prev = self.last_reading(meter, start_s)
        pairs = []
        for r in self.readings(meter, start_s, stop_s):
            flow = None if prev is None else flow_lpm(prev.ts_s, prev.total_ml, r.ts_s, r.total_ml)
            pairs.append((mark(r), flow))
            prev = r
        return spans_by_step(pairs, start_s, step_s)

    def count_readings(self, meter: str) -> int:
        """Distinct stored readings of a meter."""
        return int(self._exec("SELECT COUNT(*) FROM reading WHERE meter=?", (meter,))[0][0])

    def count_all_readings(self) -> int:
        """Distinct stored readings of every meter."""
        return int(self._exec("SELECT COUNT(*) FROM reading")[0][0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
