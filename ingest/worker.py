"""The ingest worker: QoS 1 subscriber, batch writer, ack only after the store confirmed.

Flow: paho's network thread puts each message on a bounded queue; the broker's in-flight
window per client (mosquitto `max_inflight_messages`, MQTT 5 receive maximum) bounds what
it sends before our acks, and if the queue is full anyway the network thread blocks and
the broker holds the backlog. The writer thread takes up to `batch_max` messages,
validates them, writes the good readings and the rejections, updates the per-meter state,
and only then acknowledges every message of the batch. A failed write is retried with
backoff and nothing is acknowledged meanwhile.

Acks carry the connection they came from: after a reconnect the broker resends every
unacknowledged message of the session (same or new packet ids), so a message received on
an older connection is written (harmless, writes are idempotent) but never acked on the
new one, where its packet id may now name a different message.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from core.readings import Reading, Rejection
from ingest import metrics
from ingest.config import IngestSettings
from ingest.flood import FloodLimit
from ingest.intake import DeviceIntake, Intake
from ingest.payload import PayloadError
from ingest.state import DUPLICATE, GAP, StateDB
from storage.readings.base import Store, StoreError

log = logging.getLogger("ingest")
_IDLE_GAP_S = 0.02


@dataclass(slots=True)
class _Msg:
    mid: int
    topic: str
    payload: bytes
    received_s: float
    conn: int  # connection generation the message arrived on
    dup: bool  # a broker redelivery: not the meter's doing, so not counted by the flood limit


def shard_of(meter: str, shard_count: int) -> int:
    """Stable shard of a meter id (CRC-32, the same in every process and release)."""
    return zlib.crc32(meter.encode()) % shard_count


class IngestWorker:
    """One worker; several can share the stream (see docs/ingest.md). `intake` picks the message
    format: the device protocol by default, or wmbusmeters JSON (ingest.wmbus.WmbusIntake)."""

    def __init__(
        self,
        settings: IngestSettings,
        store: Store,
        state: StateDB | None = None,
        intake: Intake | None = None,
    ):
        self.settings = settings
        self.store = store
        self.intake: Intake = intake or DeviceIntake(settings.topic_prefix)
        if state is None and settings.state_path is None and self.intake.tracks_state:
            log.warning("per-meter state kept in memory only: set WM_INGEST_STATE_PATH to keep it")
        self.state = state or StateDB(settings.state_path or ":memory:", settings.max_flow_lpm)
        self.flood = FloodLimit(settings.flood_burst, settings.flood_rate_per_s)
        self._queue: queue.Queue[_Msg] = queue.Queue(maxsize=settings.queue_max)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._conn = 0
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=settings.client_id, clean_session=False, manual_ack=True
        )
        if settings.broker_user:
            self.client.username_pw_set(settings.broker_user, settings.broker_password)
        if settings.broker_ca_file:
            self.client.tls_set(ca_certs=settings.broker_ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(1, 10)
        self.written = 0
        self.rejected = 0
        self.acked = 0
        self.events: Counter[str] = Counter()
        self.last_write_s: float | None = None
        self.store_failing_since_s: float | None = None

    @property
    def topic(self) -> str:
        """The subscription: plain, or a $share group member."""
        base = self.intake.subscription()
        return f"$share/{self.settings.share_group}/{base}" if self.settings.share_group else base

    # -- MQTT side -----------------------------------------------------------------
    def _on_connect(self, client, _userdata, flags, reason_code, _props):
        if reason_code.is_failure:
            log.error("broker refused connection", extra={"fields": {"reason": str(reason_code)}})
            return
        self._conn += 1
        # Always subscribe again: a broker restarted without persistence (or mosquitto
        # 2.0.11 with $share) has forgotten the subscription even if the session exists.
        client.subscribe(self.topic, qos=1)
        log.info(
            "connected to broker",
            extra={
                "fields": {
                    "topic": self.topic,
                    "session_present": bool(flags.session_present),
                    "conn": self._conn,
                }
            },
        )

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props):
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription", extra={"fields": {"topic": self.topic}})
            return
        self._connected.set()  # only now does the broker route (and queue) readings to us
        metrics.CONNECTED.set(1)
        log.info("subscribed", extra={"fields": {"topic": self.topic}})

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props):
        self._connected.clear()
        metrics.CONNECTED.set(0)
        log.warning("disconnected from broker", extra={"fields": {"reason": str(reason_code)}})

    def _on_message(self, client, _userdata, msg):
        metrics.RECEIVED.inc()
        if self.settings.shard_count > 1 and not self._mine(msg.topic, msg.payload):
            client.ack(msg.mid, 1)  # another shard's worker stores it from its own session
            metrics.SKIPPED.inc()
            return
        metrics.INFLIGHT.inc()
        item = _Msg(msg.mid, msg.topic, msg.payload, time.time(), self._conn, bool(msg.dup))
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)  # full queue: hold the network thread
                return
            except queue.Full:
                continue

    def _mine(self, topic: str, payload: bytes) -> bool:
        try:
            meter = self.intake.key(topic, payload)
        except PayloadError:
            return self.settings.shard_index == 0  # shard 0 dead-letters unparseable topics
        return shard_of(meter, self.settings.shard_count) == self.settings.shard_index

    # -- store side ------------------------------------------------------------------
    def _take_batch(self) -> list[_Msg]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait_s
        while len(batch) < self.settings.batch_max:
            remaining = deadline - time.monotonic()
            try:
                # Stop at an idle gap, not only at the deadline: when the broker's in-flight
                # window is full nothing more comes until this batch is acked.
                item = (
                    self._queue.get(timeout=min(remaining, _IDLE_GAP_S))
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            batch.append(item)
        return batch

    def _split(self, batch: list[_Msg]) -> tuple[list[Reading], list[Rejection]]:
        readings: list[Reading] = []
        rejections: list[Rejection] = []
        for m in batch:
            try:
                meter = self.intake.key(m.topic, m.payload)
                if not m.dup and not self.flood.allow(meter, m.received_s):
                    raise PayloadError(
                        "flood",
                        f"meter {meter} is over {self.settings.flood_burst} messages "
                        f"+ {self.settings.flood_rate_per_s}/s",
                    )
                readings.extend(self.intake.parse(m.topic, m.payload, m.received_s))
            except PayloadError as err:
                rejections.append(Rejection(m.topic, err.reason, err.detail, m.payload, m.received_s))
        return readings, rejections

    def _write_with_retry(self, readings: list[Reading], rejections: list[Rejection]) -> Counter[str] | None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                t0 = time.monotonic()
                self.store.write_readings(readings)
                if rejections:
                    self.store.write_rejections(rejections)
                events = self.state.apply(readings) if self.intake.tracks_state else Counter[str]()
                metrics.BATCH_SECONDS.observe(time.monotonic() - t0)
                if self.store_failing_since_s is not None:
                    log.info(
                        "store writes succeed again",
                        extra={"fields": {"outage_s": round(time.time() - self.store_failing_since_s, 1)}},
                    )
                self.store_failing_since_s = None
                return events
            except StoreError as err:
                metrics.STORE_ERRORS.inc()
                if self.store_failing_since_s is None:
                    self.store_failing_since_s = time.time()
                log.warning(
                    "store write failed, holding batch unacked",
                    extra={
                        "fields": {"readings": len(readings), "error": str(err)[:300], "retry_in_s": delay}
                    },
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        return None

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if not batch:
                continue
            readings, rejections = self._split(batch)
            events = self._write_with_retry(readings, rejections)
            if events is None:
                return  # stopping: unacked messages will be redelivered to our session
            acked = 0
            for m in batch:
                if m.conn == self._conn:
                    self.client.ack(m.mid, 1)
                    acked += 1
            done_s = time.time()
            self.last_write_s = done_s
            metrics.INFLIGHT.dec(len(batch))
            metrics.ACKED.inc(acked)
            metrics.WRITTEN.inc(len(readings))
            metrics.BATCH_READINGS.observe(len(readings))
            metrics.DUPLICATES.inc(events.get(DUPLICATE, 0))
            for kind, n in events.items():
                metrics.EVENTS.labels(kind).inc(n)
            for m in batch:
                metrics.RECEIVE_TO_STORED.observe(done_s - m.received_s)
            if readings:
                metrics.LAG_SECONDS.observe(max(0.0, done_s - max(r.ts_s for r in readings)))
            for rej in rejections:
                metrics.REJECTED.labels(rej.reason).inc()
                log.info(
                    "rejected message",
                    extra={
                        "fields": {"topic": rej.topic[:200], "reason": rej.reason, "detail": rej.detail[:300]}
                    },
                )
            if events.get(GAP):
                log.info("sequence gaps", extra={"fields": {"gaps": events[GAP]}})
            self.written += len(readings)
            self.rejected += len(rejections)
            self.acked += acked
            self.events.update(events)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()
        self.client.connect_async(self.settings.broker_host, self.settings.broker_port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        return self._connected.wait(timeout_s)

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._connected.is_set()

    def health(self) -> dict:
        """Liveness summary for the health endpoint."""
        return {
            "connected": self.connected,
            "store_ok": self.store_failing_since_s is None,
            "store_failing_for_s": (
                round(time.time() - self.store_failing_since_s, 1)
                if self.store_failing_since_s is not None
                else 0
            ),
            "queued": self._queue.qsize(),
            "written": self.written,
            "rejected": self.rejected,
            "acked": self.acked,
            "last_write_s": self.last_write_s,
            "writer_alive": self._writer.is_alive(),
        }

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._writer.join(timeout=10)
        self.state.close()
