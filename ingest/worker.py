"""The ingest worker: QoS 1 subscriber, batch writer, ack only after the store confirmed.

Flow: paho's network thread puts each message on a bounded queue (when the queue is
full, that thread blocks, stops reading its socket, and the broker holds the backlog);
the writer thread takes up to `batch_max` messages, validates them, writes the good
readings and the rejections, and only then acknowledges every message of the batch.
A failed write is retried with backoff and nothing is acknowledged meanwhile.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest import metrics
from ingest.config import IngestSettings
from ingest.model import Reading, Rejection
from ingest.payload import PayloadError, parse_batch
from ingest.store.base import Store, StoreError

log = logging.getLogger("ingest")


@dataclass(slots=True)
class _Msg:
    mid: int
    topic: str
    payload: bytes
    received_s: float


class IngestWorker:
    """One worker; several can share the stream (see docs/ingest.md)."""

    def __init__(self, settings: IngestSettings, store: Store):
        self.settings = settings
        self.store = store
        self._queue: queue.Queue[_Msg] = queue.Queue(maxsize=settings.queue_max)
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                                  clean_session=False, manual_ack=True)
        if settings.broker_user:
            self.client.username_pw_set(settings.broker_user, settings.broker_password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(1, 30)
        self.written = 0
        self.rejected = 0

    # -- MQTT side -----------------------------------------------------------------
    def _on_connect(self, client, _userdata, _flags, reason_code, _props):
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        client.subscribe(f"{self.settings.topic_prefix}/+/readings", qos=1)
        self._connected.set()
        log.info("connected to broker, subscribed")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props):
        self._connected.clear()
        log.warning("disconnected from broker: %s", reason_code)

    def _on_message(self, _client, _userdata, msg):
        metrics.RECEIVED.inc()
        metrics.INFLIGHT.inc()
        item = _Msg(msg.mid, msg.topic, msg.payload, time.time())
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.5)  # full queue: hold the network thread
                return
            except queue.Full:
                continue

    # -- store side ------------------------------------------------------------------
    def _take_batch(self) -> list[_Msg]:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait_s
        lines = 0
        while lines < self.settings.batch_max:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            lines += 1
        return batch

    def _split(self, batch: list[_Msg]) -> tuple[list[Reading], list[Rejection]]:
        readings: list[Reading] = []
        rejections: list[Rejection] = []
        for m in batch:
            try:
                readings.extend(parse_batch(m.topic, m.payload, prefix=self.settings.topic_prefix))
            except PayloadError as err:
                rejections.append(Rejection(m.topic, err.reason, err.detail, m.payload, m.received_s))
        return readings, rejections

    def _write_with_retry(self, readings: list[Reading], rejections: list[Rejection]) -> bool:
        delay = 0.2
        while not self._stop.is_set():
            try:
                t0 = time.monotonic()
                self.store.write_readings(readings)
                if rejections:
                    self.store.write_rejections(rejections)
                metrics.BATCH_SECONDS.observe(time.monotonic() - t0)
                return True
            except StoreError as err:
                metrics.STORE_ERRORS.inc()
                log.warning("store write failed, holding %d readings unacked: %s", len(readings), err)
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        return False

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if not batch:
                continue
            readings, rejections = self._split(batch)
            if not self._write_with_retry(readings, rejections):
                return  # stopping: unacked messages will be redelivered to our session
            for m in batch:
                self.client.ack(m.mid, 1)
            metrics.INFLIGHT.dec(len(batch))
            metrics.WRITTEN.inc(len(readings))
            if readings:
                metrics.LAG_SECONDS.observe(max(0.0, time.time() - max(r.ts_s for r in readings)))
            for rej in rejections:
                metrics.REJECTED.labels(rej.reason).inc()
                log.info("rejected %s: %s %s", rej.topic, rej.reason, rej.detail)
            self.written += len(readings)
            self.rejected += len(rejections)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._writer.start()
        self.client.connect_async(self.settings.broker_host, self.settings.broker_port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._writer.join(timeout=10)
