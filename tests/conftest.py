"""Fixtures that start the real services this suite needs, on free ports in temp dirs."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devservices.influx import Influx
from devservices.mosquitto import Mosquitto
from ingest import compiled
from storage.readings.influx import InfluxStore


def pytest_sessionstart(session) -> None:
    """A compiled hot-path module older than its source would test the old code: stop and say so."""
    if old := compiled.stale():
        pytest.exit(f"compiled modules older than their sources: {', '.join(old)}; run `make native`", 2)


@pytest.fixture(scope="session")
def influx(tmp_path_factory) -> Iterator[Influx]:
    server = Influx(tmp_path_factory.mktemp("influx"))
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def influx_store(influx) -> Iterator[InfluxStore]:
    """A fresh database per test."""
    store = InfluxStore.at(influx.url, f"t_{secrets.token_hex(4)}")
    yield store
    store.close()


@pytest.fixture
def mosquitto(tmp_path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto")
    (tmp_path / "mosquitto").mkdir()
    broker.start()
    yield broker
    broker.cleanup()


DAY_S = 86400
SIM_HOUR_UTC = 6  # simulated runs start at this hour of a past day


def sim_start(days_ago: float = 3.0) -> int:
    """A virtual start at least days_ago in the past (every reading is in the ingest's window), at 06:00 UTC.

    A fixed hour makes a seeded run the same whatever hour the tests run at: households draw water
    by their time of day, so a start taken from the clock made, say, a 6-hour run that fell in a
    household's night draw nothing in some hours of the day and not in others.
    """
    latest = int(datetime.now(UTC).timestamp()) - int(days_ago * DAY_S)
    start = latest - latest % DAY_S + SIM_HOUR_UTC * 3600
    return start if start <= latest else start - DAY_S


def code_in(text: str) -> str:
    """The 6-digit code of a binding text message (what the holder reads on their phone)."""
    found = re.search(r"\b(\d{6})\b", text)
    assert found, f"no 6-digit code in {text!r}"
    return found.group(1)


def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


class ServerThread(threading.Thread):
    """Run a uvicorn server in a thread for tests that need real HTTP."""

    def __init__(self, app, port: int):
        import uvicorn

        super().__init__(daemon=True)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    def run(self) -> None:
        self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL 15 cluster for the session (tests create their own databases in it)."""
    from devservices.postgres import Postgres

    server = Postgres()  # its own /tmp dir: pytest's tmp dirs are private to root, postgres cannot enter
    server.start()
    yield server
    server.cleanup()
