"""Uploaded meter photos: content-addressed files, upload records, and a per-resident rate limit."""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

PHOTO_ID_PATTERN = r"^[A-Za-z0-9_-]{16}$"
_EXT = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png", b"RIFF": ".webp"}
_MEDIA = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def _atomic_write(path: Path, data: bytes) -> None:
    # Write then rename: a crash never leaves half a photo under its final name.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PhotoStore:
    """Photos under root/ab/<sha256><ext>; one JSON record per upload under root/uploads/."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def keep(self, data: bytes) -> str:
        """Store the photo once (same bytes, same file); return its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        ext = next((e for magic, e in _EXT.items() if data.startswith(magic)), ".bin")
        path = self.root / sha[:2] / f"{sha}{ext}"
        if not path.exists():
            _atomic_write(path, data)
        return sha

    def media_type(self, path: Path) -> str:
        """The stored photo's media type, by the extension its magic bytes gave it."""
        return _MEDIA.get(path.suffix, "application/octet-stream")

    def path_of(self, sha: str) -> Path | None:
        found = sorted((self.root / sha[:2]).glob(f"{sha}.*"))
        return found[0] if found else None

    def new_id(self) -> str:
        return secrets.token_urlsafe(12)

    def save_record(self, record: dict) -> None:
        _atomic_write(self.root / "uploads" / f"{record['photo_id']}.json", json.dumps(record).encode())

    def load_record(self, photo_id: str) -> dict | None:
        path = self.root / "uploads" / f"{photo_id}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def queue_for_review(self, photo_id: str) -> None:
        """Put an upload in the operators' review queue (a marker file per upload)."""
        _atomic_write(self.root / "review" / photo_id, b"")

    def dequeue(self, photo_id: str) -> None:
        """Take an upload out of the review queue."""
        (self.root / "review" / photo_id).unlink(missing_ok=True)

    def review_queue(self, limit: int) -> list[dict]:
        """Records waiting for an operator, oldest first (at most `limit`)."""
        folder = self.root / "review"
        if not folder.exists():
            return []
        marks = sorted(folder.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
        found = (self.load_record(p.name) for p in marks if not p.name.startswith("."))
        return [r for r in found if r is not None][:limit]

    def count_files(self) -> int:
        """Photos kept (tests check that bad input keeps none)."""
        return sum(1 for p in self.root.glob("??/*") if p.is_file())


class RateLimiter:
    """At most `limit` events per `window_s` per key (sliding window, in memory)."""

    def __init__(self, limit: int, window_s: float = 3600.0, clock=time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int:
        """0 when allowed (and counted); else the whole seconds until the next event is allowed."""
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                return max(1, math.ceil(events[0] + self.window_s - now))
            events.append(now)
            return 0
