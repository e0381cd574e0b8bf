"""Embedded store on SQLite: the same contract as InfluxDB, for `make demo` without influxd."""

from __future__ import annotations

import sqlite3
import threading

from ingest.model import Reading, Rejection
from ingest.store.base import Bucket, MeterSummary, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    meter TEXT NOT NULL, ts_s INTEGER NOT NULL, total_ml INTEGER NOT NULL,
    seq INTEGER NOT NULL, boot INTEGER NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (meter, ts_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
    received_s REAL NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BLOB NOT NULL
);
"""


class SqliteStore:
    """Readings in one SQLite file; (meter, ts) is the primary key, so rewrites overwrite."""

    def __init__(self, path: str):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def _exec(self, sql: str, params=()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"SQLite: {err}") from err

    def write_readings(self, readings: list[Reading]) -> None:
        rows = [(r.meter, r.ts_s, r.total_ml, r.seq, r.boot, r.source) for r in readings]
        try:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO reading VALUES (?,?,?,?,?,?)", rows)
                self._db.execute("COMMIT")
        except sqlite3.Error as err:
            raise StoreError(f"SQLite write: {err}") from err

    def write_rejections(self, rejections: list[Rejection]) -> None:
        rows = [(r.received_s, r.topic, r.reason, r.detail, r.payload[:1024]) for r in rejections]
        try:
            with self._lock:
                self._db.executemany("INSERT INTO rejected VALUES (?,?,?,?,?)", rows)
        except sqlite3.Error as err:
            raise StoreError(f"SQLite write: {err}") from err

    def rejections(self, limit: int = 100) -> list[Rejection]:
        rows = self._exec(
            "SELECT topic, reason, detail, payload, received_s FROM rejected "
            "ORDER BY received_s DESC LIMIT ?",
            (limit,),
        )
        return [Rejection(t, r, d, bytes(p), s) for t, r, d, p, s in rows]

    def meters(self) -> list[MeterSummary]:
        rows = self._exec("SELECT meter, MAX(ts_s) FROM reading GROUP BY meter ORDER BY meter")
        out = []
        for meter, ts in rows:
            total = self._exec("SELECT total_ml FROM reading WHERE meter=? AND ts_s=?", (meter, ts))[0][0]
            out.append(MeterSummary(meter, ts, total))
        return out

    def last_at_or_before(self, meter: str, t_s: int) -> int | None:
        rows = self._exec(
            "SELECT total_ml FROM reading WHERE meter=? AND ts_s<=? ORDER BY ts_s DESC LIMIT 1", (meter, t_s)
        )
        return rows[0][0] if rows else None

    def first_after(self, meter: str, t_s: int, stop_s: int) -> int | None:
        rows = self._exec(
            "SELECT total_ml FROM reading WHERE meter=? AND ts_s>? AND ts_s<=? ORDER BY ts_s LIMIT 1",
            (meter, t_s, stop_s),
        )
        return rows[0][0] if rows else None

    def bucket_lasts(self, meter: str, start_s: int, stop_s: int, every_s: int) -> list[Bucket]:
        rows = self._exec(
            "SELECT k, total_ml FROM (SELECT (ts_s - ? - 1) / ? AS k, total_ml, "
            "ROW_NUMBER() OVER (PARTITION BY (ts_s - ? - 1) / ? ORDER BY ts_s DESC) AS rn "
            "FROM reading WHERE meter=? AND ts_s>? AND ts_s<=?) WHERE rn=1 ORDER BY k",
            (start_s, every_s, start_s, every_s, meter, start_s, stop_s),
        )
        return [Bucket(start_s + k * every_s, total) for k, total in rows]

    def readings(self, meter: str, start_s: int, stop_s: int) -> list[Reading]:
        rows = self._exec(
            "SELECT meter, ts_s, total_ml, seq, boot, source FROM reading "
            "WHERE meter=? AND ts_s>? AND ts_s<=? ORDER BY ts_s",
            (meter, start_s, stop_s),
        )
        return [Reading(*row) for row in rows]

    def count_readings(self, meter: str) -> int:
        return self._exec("SELECT COUNT(*) FROM reading WHERE meter=?", (meter,))[0][0]

    def count_all_readings(self) -> int:
        return self._exec("SELECT COUNT(*) FROM reading")[0][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
