"""Outbox dispatcher: delivers alert events to webhooks (HTTP POST) and MQTT (QoS 1), with retries.

Rows are written by billing.alerts in the alert's own transaction. A dispatcher claims due rows
with a lease (so two dispatchers never send the same row at once; a crashed one's lease expires),
sends, and marks each row delivered in its own transaction right after the receiver acknowledged
it (HTTP 2xx, MQTT PUBACK). Failures back off exponentially (2 s doubling, capped at 10 min) and
retry forever: no event is dropped while a receiver is down. Events to one target keep their
order: after a failure, later rows to the same target wait. Each request carries
`X-WM-Delivery-Id` (the row id), stable across retries, so a receiver can drop the one duplicate
a crash between "sent" and "marked delivered" can cause.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, or_, select, update

from billing.db import Database, OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class DispatchStats:
    delivered: int = 0
    failed: int = 0
    deferred: int = 0  # held back behind an earlier failure to the same target


class MqttPublisher:
    """One paho connection; `publish` returns once the broker acknowledged (QoS 1) or raises."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        timeout_s: float = 5.0,
        user: str | None = None,
        password: str | None = None,
    ):
        import paho.mqtt.client as mqtt

        self.timeout_s = timeout_s
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if user is not None:  # a closed broker (devservices/acl.py: role `alerts`)
            self.client.username_pw_set(user, password)
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        if not self.client.is_connected():
            raise ConnectionError("not connected to the MQTT broker")
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(self.timeout_s)
        if not info.is_published():
            raise TimeoutError(f"no PUBACK within {self.timeout_s} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Dispatcher:
    """Delivers due outbox rows; call `run_once()` or `start()` a background loop."""

    def __init__(
        self,
        db: Database,
        *,
        mqtt: MqttPublisher | None = None,
        http_timeout_s: float = 5.0,
        lease_s: float = 60.0,
        base_backoff_s: float = 2.0,
        max_backoff_s: float = 600.0,
        batch: int = 100,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        owner: str | None = None,
    ):
        self.db = db
        self.mqtt = mqtt
        self.http = httpx.Client(timeout=http_timeout_s)
        self.lease = timedelta(seconds=lease_s)
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch = batch
        self.clock = clock
        self.owner = owner or f"dispatcher-{secrets.token_hex(4)}"
        self.totals = DispatchStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _claim(self, now: datetime) -> list[OutboxMessage]:
        with self.db.session() as s:
            ids = list(
                s.scalars(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.delivered_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                    )
                    .order_by(OutboxMessage.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            # Per target, only rows from its oldest undelivered one on: a row backing off (or leased
            # elsewhere) holds back the later rows to the same receiver, so events stay in order.
            heads = set(
                s.scalars(
                    select(func.min(OutboxMessage.id))
                    .where(OutboxMessage.delivered_at.is_(None))
                    .group_by(OutboxMessage.channel, OutboxMessage.target)
                )
            )
            targets = {
                r.id: (r.channel, r.target)
                for r in s.execute(
                    select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.target).where(
                        OutboxMessage.id.in_(ids)
                    )
                )
            }
            open_targets = {targets[i] for i in ids if i in heads}
            claimed = []
            for msg_id in (i for i in ids if targets[i] in open_targets):
                # Conditional update: if another dispatcher got there first, it matches no row.
                got = s.execute(  # type: ignore[attr-defined]  # an UPDATE's result is a CursorResult
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == msg_id,
                        OutboxMessage.delivered_at.is_(None),
                        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                    )
                    .values(lease_owner=self.owner, lease_until=now + self.lease)
                ).rowcount
                if got:
                    claimed.append(msg_id)
            rows = (
                list(
                    s.scalars(
                        select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
                    )
                )
                if claimed
                else []
            )
            s.expunge_all()
            return rows

    def _send(self, msg: OutboxMessage) -> None:
        body = json.dumps(msg.payload, separators=(",", ":"), sort_keys=True).encode()
        if msg.channel == "webhook":
            resp = self.http.post(
                msg.target,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-WM-Delivery-Id": str(msg.id),
                    "X-WM-Event": str(msg.payload.get("event", "")),
                },
            )
            if not 200 <= resp.status_code < 300:
                raise RuntimeError(f"webhook answered HTTP {resp.status_code}")
        elif msg.channel == "mqtt":
            if self.mqtt is None:
                raise RuntimeError("no MQTT publisher configured")
            self.mqtt.publish(msg.target, body)
        else:
            raise RuntimeError(f"unknown channel {msg.channel!r}")

    def _finish(self, msg: OutboxMessage, error: str | None, now: datetime, deferred: bool = False) -> None:
        with self.db.session() as s:
            mine = (OutboxMessage.id == msg.id) & (OutboxMessage.lease_owner == self.owner)
            if error is None:
                s.execute(
                    update(OutboxMessage)
                    .where(mine)
                    .values(delivered_at=now, attempts=msg.attempts + 1, lease_owner=None, lease_until=None)
                )
            elif deferred:
                s.execute(update(OutboxMessage).where(mine).values(lease_owner=None, lease_until=None))
            else:
                delay = min(self.base_backoff_s * 2**msg.attempts, self.max_backoff_s)
                s.execute(
                    update(OutboxMessage)
                    .where(mine)
                    .values(
                        attempts=msg.attempts + 1,
                        last_error=error[:500],
                        next_attempt_at=now + timedelta(seconds=delay),
                        lease_owner=None,
                        lease_until=None,
                    )
                )

    def run_once(self) -> DispatchStats:
        """Deliver what is due now; returns counts for this round."""
        stats = DispatchStats()
        blocked: set[tuple[str, str]] = set()
        for msg in self._claim(self.clock()):
            target = (msg.channel, msg.target)
            if target in blocked:
                self._finish(msg, "held behind an earlier failure", self.clock(), deferred=True)
                stats.deferred += 1
                continue
            try:
                self._send(msg)
            except (httpx.HTTPError, OSError, RuntimeError, TimeoutError) as err:
                blocked.add(target)
                stats.failed += 1
                log.info("delivery %s to %s failed: %s", msg.id, msg.target, err)
                self._finish(msg, f"{type(err).__name__}: {err}", self.clock())
                continue
            self._finish(msg, None, self.clock())
            stats.delivered += 1
        for k in ("delivered", "failed", "deferred"):
            setattr(self.totals, k, getattr(self.totals, k) + getattr(stats, k))
        return stats

    def pending(self) -> int:
        """Rows not yet delivered."""
        with self.db.session() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.delivered_at.is_(None))
                )
                or 0
            )

    def start(self, poll_s: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception:  # a database hiccup must not kill the loop; the rows stay in the outbox
                    log.exception("outbox round failed")
                self._stop.wait(poll_s)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name=self.owner, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current round, then stop (nothing half-marked is left behind)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        self.http.close()
