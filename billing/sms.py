"""Sending SMS: the gateway interface and the development sink the tests and the demo read."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """One text message to one phone number."""

    to: str
    text: str
    at_s: int  # when it was handed to the gateway (Unix seconds)


class SmsGateway(Protocol):
    """Hands a message to the carrier; raises on failure (the caller does not retry)."""

    def send(self, message: SmsMessage) -> None: ...


class DevSmsSink:
    """Keeps messages instead of sending them: the last 1,000 in memory, all in a JSON-lines file if given.

    For development, tests and the demo only: anything that can read the sink can bind any account.
    """

    def __init__(self, path: Path | None = None, keep: int = 1000):
        self.path = Path(path) if path else None
        self._recent: deque[SmsMessage] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> None:
        """Keep the message."""
        with self._lock:
            self._recent.append(message)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as f:
                    f.write(json.dumps(asdict(message), ensure_ascii=False) + "\n")

    def messages(self, to: str | None = None) -> list[SmsMessage]:
        """Messages kept in memory, oldest first; only those to `to` when given."""
        with self._lock:
            return [m for m in self._recent if to is None or m.to == to]


def read_sink(path: Path) -> list[SmsMessage]:
    """Every message a DevSmsSink wrote to its file, oldest first."""
    if not Path(path).exists():
        return []
    return [SmsMessage(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]
