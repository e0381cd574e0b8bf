"""Durable per-meter state of one partition: a snapshot and an append-only log of the changes since.

Each batch appends the states it changed (one `write`, fsync'd unless disabled) before the batch is
acknowledged, so a worker killed at any point restarts (or another worker takes the partition over)
with every acknowledged change. A SQLite upsert per meter cost 20 µs at 1M meters here (random pages
rewritten in the WAL); an append is sequential and costs ~1 µs per meter. When the log grows past
COMPACT_RATIO × the snapshot (and COMPACT_MIN_BYTES), the worker writes a new snapshot (temp file,
fsync, rename) and empties the log.

Frames: 4-byte length, 4-byte CRC-32, a `marshal`ed list of state tuples. A torn last frame (a crash
mid-write) fails its CRC and is dropped: that batch was not acknowledged. `marshal` is Python's own
format: the header names the Python version that wrote it, and a state written by another version is
not trusted (the partition then starts without state and takes the query path for each meter once,
docs/ingest.md).

`authoritative` (in the header): the state began with an empty database, so a meter absent from it
has no stored readings. Otherwise an absent meter's first batch is checked against the store.
"""

from __future__ import annotations

import fcntl
import logging
import marshal
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.consumption import Mark, Span
from ingest.state import MeterState
from storage.readings.stream import OpenHour

log = logging.getLogger("ingest")

FORMAT = 2  # 2: flat records (state_record); format-1 files are still read
READ_FORMATS = (1, 2)
COMPACT_RATIO = 4
COMPACT_MIN_BYTES = 64 << 20
_HEAD = struct.Struct("!II")
_VERSION = f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"


_new = tuple.__new__  # Mark(*t) without the argument parsing: half the time per mark when loading a fleet


def state_record(meter: str, s: MeterState) -> tuple:
    """A state as the log keeps it: one flat tuple (format 2), the open hour's fields at its end when there
    is one. Flat because the worker writes one per meter and batch: a nested hour (format 1) cost a third
    more to build and to marshal."""
    gaps = s.open_gaps
    g = tuple(map(tuple, gaps)) if gaps else None
    h = s.hour
    if h is None:
        return (meter, s.boot, s.seq, s.ts_s, s.total_ml, s.readings, s.duplicates, s.conflicts, s.late,
                s.gaps, s.missing, s.resets, s.boots, s.anomalies, g)  # fmt: skip
    sp = h.span
    f = sp[0]
    last = sp[1]
    return (meter, s.boot, s.seq, s.ts_s, s.total_ml, s.readings, s.duplicates, s.conflicts, s.late,
            s.gaps, s.missing, s.resets, s.boots, s.anomalies, g,
            h.hour_s, f[0], f[1], f[2], last[0], last[1], last[2], sp[2], sp[3], sp[4], sp[5], sp[6],
            h.peak_lpm)  # fmt: skip


_BASE = 15  # fields of a format-2 record without an open hour
_WITH_HOUR = _BASE + 13
_V1 = 16  # format 1: (meter, boot, seq, ts, total, hour tuple or None, 9 counts, gaps)


def _from_tuple(t: tuple, part: int = -1) -> tuple[str, MeterState]:
    """A record of either format (a log written by the previous release is read, then compacted as 2)."""
    n = len(t)
    if n == _V1:
        (meter, boot, seq, ts, total, hour, readings, dups, conflicts, late, gaps, missing, resets, boots,
         anomalies, open_gaps) = t  # fmt: skip
        h = None
        if hour is not None:
            hs, first, last, head, used, tmax, segs, n_marks, peak = hour
            span = _new(Span, (_new(Mark, first), _new(Mark, last), head, used, tmax, segs, n_marks))
            h = OpenHour(hs, span, peak)
    elif n in (_BASE, _WITH_HOUR):
        (meter, boot, seq, ts, total, readings, dups, conflicts, late, gaps, missing, resets, boots,
         anomalies, open_gaps) = t[:_BASE]  # fmt: skip
        h = None
        if n == _WITH_HOUR:
            first = _new(Mark, t[16:19])
            last = _new(Mark, t[19:22])
            h = OpenHour(t[15], _new(Span, (first, last, *t[22:27])), t[27])
    else:
        raise ValueError(f"state record of {n} fields")
    return meter, MeterState(
        boot, seq, ts, total, h, readings, dups, conflicts, late, gaps, missing, resets, boots, anomalies,
        [list(g) for g in open_gaps] if open_gaps else None, part,
    )  # fmt: skip


def frame(obj: Any) -> bytes:
    """One record: length, CRC-32, the marshalled object."""
    body = marshal.dumps(obj)
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _frames(data: bytes) -> tuple[list[Any], int]:
    """Decoded frames, and the length of the good prefix (a torn tail stops the walk)."""
    out, pos = [], 0
    while pos + _HEAD.size <= len(data):
        n, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size : pos + _HEAD.size + n]
        if len(body) != n or zlib.crc32(body) != crc:
            break
        out.append(marshal.loads(body))
        pos += _HEAD.size + n
    return out, pos


def init_deployment(directory: str | Path, count: int, empty_store: Callable[[], bool]) -> None:
    """On a state directory new to the deployment, decide every partition's authority at once.

    Several workers start together on a new deployment: had each asked the store for its own partitions,
    the later ones would find the first one's readings already stored and treat their partitions as not
    authoritative (every meter on the query path once: 20x slower, bench.ingest). The first worker here
    (under an exclusive lock) asks once and writes an empty snapshot for all `count` partitions.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with (d / "partitions.lock").open("a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if any((d / f"p{p}.snap").exists() for p in range(count)):
            return  # not new: each missing partition asks for itself (StateLog.load)
        authoritative = empty_store()
        for p in range(count):
            sl = StateLog(d, p, fsync=True)
            sl.authoritative = authoritative
            sl._write_snapshot({})


class StateLog:
    """Snapshot + log of one partition's states in `directory` (files p<N>.snap, p<N>.log)."""

    def __init__(self, directory: str | Path, partition: int, fsync: bool = True):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.snap = self.dir / f"p{partition}.snap"
        self.log_path = self.dir / f"p{partition}.log"
        self.partition = partition
        self.fsync = fsync
        self.authoritative = False
        self._fd: int | None = None
        self._log_bytes = 0
        self._snap_bytes = 0

    def load(self, empty_store: Callable[[], bool]) -> dict[str, MeterState]:
        """The partition's states; a new partition's state is authoritative iff the store is empty."""
        states: dict[str, MeterState] = {}
        if self.snap.exists():
            data = self.snap.read_bytes()
            frames, _ = _frames(data)
            head = frames[0] if frames else None
            if not (
                isinstance(head, dict)
                and head.get("format") in READ_FORMATS
                and head.get("python") == _VERSION
            ):
                log.warning("state snapshot %s unreadable here: starting without state", self.snap)
                self.authoritative = False
            else:
                self.authoritative = bool(head.get("authoritative"))
                for chunk in frames[1:]:
                    states.update(_from_tuple(t, self.partition) for t in chunk)
            self._snap_bytes = len(data)
        else:
            self.authoritative = empty_store()  # asked only when the partition is new here
            self._write_snapshot(states)
        if self.log_path.exists():
            data = self.log_path.read_bytes()
            frames, good = _frames(data)
            for chunk in frames:
                states.update(_from_tuple(t, self.partition) for t in chunk)
            if good != len(data):
                log.warning(
                    "state log %s: dropped a torn last frame (%d bytes)", self.log_path, len(data) - good
                )
                with self.log_path.open("r+b") as f:
                    f.truncate(good)
            self._log_bytes = good
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return states

    def append(self, changed: dict[str, MeterState]) -> None:
        """Make these states durable (one write; fsync unless disabled)."""
        if changed:
            self.append_frame(frame([state_record(m, s) for m, s in changed.items()]))

    def append_frame(self, record: bytes) -> None:
        """Make a record durable (one write; fsync unless disabled)."""
        assert self._fd is not None, "load() first"
        os.write(self._fd, record)
        if self.fsync:
            os.fdatasync(self._fd)
        self._log_bytes += len(record)

    def compact_due(self) -> bool:
        """Whether the log has grown enough to be folded into a new snapshot."""
        return self._log_bytes > max(COMPACT_MIN_BYTES, COMPACT_RATIO * self._snap_bytes)

    def compact(self, states: dict[str, MeterState]) -> None:
        """Write every state as the new snapshot and empty the log."""
        self._write_snapshot(states)
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        self._log_bytes = 0

    def _write_snapshot(self, states: dict[str, MeterState]) -> None:
        tmp = self.snap.with_suffix(".tmp")
        items = list(states.items())
        with tmp.open("wb") as f:
            f.write(frame({"format": FORMAT, "python": _VERSION, "authoritative": self.authoritative}))
            for i in range(0, len(items), 50_000):
                f.write(frame([state_record(m, s) for m, s in items[i : i + 50_000]]))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.snap)
        self._snap_bytes = self.snap.stat().st_size

    def close(self) -> None:
        """Close the log file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
