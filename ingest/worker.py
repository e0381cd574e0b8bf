"""The ingest worker: a durable QoS 1 subscriber, a batch pipeline, acks only after the store confirmed.

Flow: the network thread (ingest/wire.py) reads PUBLISH packets and queues them; the broker's in-flight
window per client (mosquitto `max_inflight_messages`) bounds what it sends before our acks, and if the
queue holds `queue_max` messages anyway the network thread stops reading (TCP holds the rest). The writer
thread takes up to `batch_max` messages, runs them through the pipeline (ingest/pipeline.py: validation,
registry, flood limit, conflicts, readings, roll-ups, dead letters, per-meter state made durable) and only
then acknowledges every message of the batch in one write. A failed write is retried with backoff and
nothing is acknowledged meanwhile.

Acks carry the connection they came from: after a reconnect the broker resends every unacknowledged
message of the session, so a message received on an older connection is written (harmless: the pipeline
sees it as a duplicate) but never acked on the new one, where its packet id may name another message.

Partitions (docs/ingest.md): a meter's partition is FNV-1a(id) mod `partitions` (NATS's `partition()`);
a worker holds the partitions p with p mod shard_count == shard_index, and only it processes their meters'
messages (on mosquitto it acknowledges the others unread: their own worker has them in its own session; on a
partitioning cluster it subscribes to its partitions only).
"""

from __future__ import annotations

import gc
import logging
import socket
import ssl
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from core.consumption import Rule
from ingest import compiled, metrics
from ingest.collector import Collector
from ingest.config import IngestSettings
from ingest.flood import FloodLimit
from ingest.intake import DeviceIntake, Intake
from ingest.payload import PayloadError
from ingest.pipeline import ActiveMeters, Msg, Outcome, Partitions, Pipeline, Prepared
from ingest.state import DUPLICATE, GAP, MeterState
from ingest.wire import Subscriber, WireError
from storage.readings.base import Store, StoreError

log = logging.getLogger("ingest")
_IDLE_GAP_S = 0.02


@dataclass
class _Job:
    """A batch on its way: messages in the order received (None: another shard's), its prepared result,
    its write in flight."""

    batch: list[tuple[int, int, Msg | None]]
    msgs: list[Msg]
    prep: Prepared | None
    future: Future[None] | None = None
    settled: bool = False
    started_s: float = field(default_factory=time.monotonic)


class IngestWorker:
    """One worker over its partitions; several split the meters by static shards (docs/ingest.md).

    `intake` picks the message format: the device protocol by default, or wmbusmeters JSON
    (ingest.wmbus.WmbusIntake). `meters` says which meters may store readings (the registry's snapshot,
    ingest.registry.RegistrySnapshot); None admits every meter (legacy; logged as a warning).
    """

    def __init__(
        self,
        settings: IngestSettings,
        store: Store,
        intake: Intake | None = None,
        meters: ActiveMeters | None = None,
    ):
        self.settings = settings
        self.store = store
        self.hot_path = compiled.status()  # "compiled" (mypyc) or "pure Python": same results, speed differs
        log.info("hot path", extra={"fields": {"hot_path": self.hot_path}})
        self.intake: Intake = intake or DeviceIntake(settings.topic_prefix)
        if meters is None:
            log.warning("no meter registry: readings of any meter id are stored (set one: docs/ingest.md)")
            meters = ActiveMeters()
        self.meters = meters
        if settings.state_path is None and self.intake.tracks_state:
            log.warning("per-meter state kept in memory only: set WM_INGEST_STATE_PATH to keep it")
        owned = [p for p in range(settings.partitions) if p % settings.shard_count == settings.shard_index]
        state_dir = settings.state_path
        if state_dir and settings.share_group:  # $share: meters are not partitioned: one state per worker
            state_dir = f"{state_dir}/{settings.client_id}"
        # Loading a fleet's state makes millions of objects the GC cannot free: 2.3 -> 1.2 s at 1M meters.
        # Frozen at once: left young, the next automatic collections walked all of them (0.9 s of a restart
        # at 1M meters before the writer's Collector froze them).
        gc.disable()
        try:
            self.parts = Partitions(settings.partitions, owned, state_dir, store, fsync=settings.state_fsync)
            gc.freeze()
        finally:
            gc.enable()
        # A fleet's state is millions of long-lived objects and each batch replaces many of them: the
        # automatic collector walked them again and again. The writer freezes what each batch made and
        # collects in full now and then (ingest/collector.py; started with the threads).
        self._gc = Collector(settings.gc_full_every_s) if settings.gc_manual else None
        self._owned = frozenset(owned)
        self.pipeline = Pipeline(
            store,
            self.intake,
            self.parts,
            meters,
            FloodLimit(settings.flood_burst, settings.flood_rate_per_s),
            Rule(max_flow_lpm=settings.max_flow_lpm),
            settings.max_meters,
        )
        self._queue: deque[tuple[int, int, Msg | None]] = deque()  # None: another shard's, acked in turn
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._conn = 0
        self._sub: Subscriber | None = None
        self._tls = self._tls_context()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._store_pool = ThreadPoolExecutor(1, thread_name_prefix="ingest-store")  # the write in flight
        self._net = threading.Thread(target=self._net_loop, name="ingest-net", daemon=True)
        self.written = 0
        self.rejected = 0
        self.acked = 0
        self.events: Counter[str] = Counter()
        self.last_write_s: float | None = None
        self.store_failing_since_s: float | None = None
        self._last_refresh = time.monotonic()

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.settings.broker_ca_file:
            return None
        ctx = ssl.create_default_context(cafile=self.settings.broker_ca_file)
        return ctx

    @property
    def topic(self) -> str | list[str]:
        """The subscription: plain, a $share group member, or the partitions this worker holds."""
        if self.settings.partition_topic:  # the cluster deals meters to shard_count subjects (config.py)
            return f"{self.settings.partition_topic}/{self.settings.shard_index}/+"
        base = self.intake.subscription()
        return f"$share/{self.settings.share_group}/{base}" if self.settings.share_group else base

    def _brokers(self) -> list[tuple[str, int]]:
        out = [(self.settings.broker_host, self.settings.broker_port)]
        for item in filter(None, self.settings.broker_failover.split(",")):
            host, _, port = item.rpartition(":")
            out.append((host, int(port)))
        return out

    def state_of(self, meter: str) -> MeterState | None:
        """A meter's state, if this worker holds it."""
        return self.parts.states.get(meter)

    # -- network side --------------------------------------------------------------------------------
    def _on_suback(self, codes: list[int]) -> None:
        if any(c & 0x80 for c in codes):
            log.error("broker refused the subscription", extra={"fields": {"topic": self.topic}})
            return
        self._connected.set()  # only now does the broker route (and queue) readings to us
        metrics.CONNECTED.set(1)
        log.info("subscribed", extra={"fields": {"topic": self.topic}})

    def _net_loop(self) -> None:
        s = self.settings
        delay = 1.0
        brokers = self._brokers()
        turn = 0
        while not self._stop.is_set():
            host, port = brokers[turn % len(brokers)]
            try:
                sub = Subscriber(host, port, s.client_id, s.broker_user, s.broker_password, self._tls, 30)
            except WireError as err:
                log.warning(
                    "broker connect failed", extra={"fields": {"error": str(err)[:300], "retry_s": delay}}
                )
                turn += 1  # the next node of a cluster
                self._stop.wait(delay if turn % len(brokers) == 0 else 0.2)
                delay = min(delay * 2, 10.0)
                continue
            delay = 1.0
            with self._cond:
                self._conn += 1
                conn = self._conn
                self._sub = sub
            # Always subscribe again: a broker restarted without persistence (or mosquitto 2.0.11 with
            # $share) has forgotten the subscription even if the session exists.
            sub.subscribe(self.topic)
            log.info(
                "connected to broker",
                extra={"fields": {"topic": self.topic, "session_present": sub.session_present, "conn": conn}},
            )
            try:
                while not self._stop.is_set():
                    msgs = sub.receive(self._on_suback)
                    if msgs:
                        self._route(sub, conn, msgs)
            except WireError as err:
                log.warning("disconnected from broker", extra={"fields": {"reason": str(err)[:300]}})
            finally:
                self._connected.clear()
                metrics.CONNECTED.set(0)
                sub.close(disconnect=self._stop.is_set())

    def _route(self, sub: Subscriber, conn: int, msgs: list) -> None:
        queued: list[tuple[int, int, Msg | None]] = []
        n_mine = 0
        shards = self.settings.shard_count > 1 and not self.settings.partition_topic
        part = self.settings.partition_topic
        prefix = self.settings.topic_prefix
        for m in msgs:
            if part and m.topic.startswith(part + "/"):
                # `<partition_topic>/<p>/<meter>` (the cluster's mapping of `<prefix>/<meter>/readings`):
                # downstream everything sees the meter's own topic.
                m.topic = f"{prefix}/{m.topic.rsplit('/', 1)[-1]}/readings"
            elif shards and not self._mine(m.topic, m.payload):
                # Another shard's worker stores it from its own session. Its ack waits in the queue with
                # ours so that every PUBACK leaves in the order the broker sent: mosquitto finds the
                # message a PUBACK names by walking the session's in-flight list from the oldest, so
                # acking these at once, past our own unacked ones, cost it a walk over up to
                # `max_inflight_messages` entries per ack (2 workers: 10x slower than 1, bench.ingest).
                queued.append((conn, m.mid, None))
                continue
            queued.append((conn, m.mid, m))
            n_mine += 1
        metrics.RECEIVED.inc(len(msgs))
        metrics.SKIPPED.inc(len(queued) - n_mine)
        metrics.INFLIGHT.inc(n_mine)
        with self._cond:
            while len(self._queue) >= self.settings.queue_max and not self._stop.is_set():
                self._cond.wait(0.5)  # full: stop reading; the broker and TCP hold the rest
                sub.ping_if_due()  # but stay alive: a store outage must not cost the broker connection
            self._queue.extend(queued)
            self._cond.notify_all()

    def _mine(self, topic: str, payload: bytes) -> bool:
        try:
            meter = self.intake.key(topic, payload)
        except PayloadError:
            return self.settings.shard_index == 0  # shard 0 dead-letters unparseable topics
        return self.parts.of(meter) in self._owned

    # -- store side ------------------------------------------------------------------------------------
    def _take_batch(self) -> list[tuple[int, int, Msg | None]]:
        q = self._queue
        with self._cond:
            if not q:
                self._cond.wait(0.2)
                if not q:
                    return []
            deadline = time.monotonic() + self.settings.batch_wait_s
            while len(q) < self.settings.batch_max:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # Stop at an idle gap, not only at the deadline: when the broker's in-flight window is
                # full nothing more comes until this batch is acked.
                before = len(q)
                self._cond.wait(min(remaining, _IDLE_GAP_S))
                if len(q) == before:
                    break
            n = min(len(q), self.settings.batch_max)
            batch = [q.popleft() for _ in range(n)]
            self._cond.notify_all()
        return batch

    def _process_with_retry(self, msgs: list[Msg]) -> Outcome | None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                t0 = time.monotonic()
                out = self.pipeline.process(msgs)
                if out.rejections:
                    self.store.write_rejections(out.rejections)
                metrics.BATCH_SECONDS.observe(time.monotonic() - t0)
                self._store_ok()
                return out
            except StoreError as err:
                self._store_failed(err, len(msgs))
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
        return None

    def _refresh_registry(self) -> None:
        if time.monotonic() - self._last_refresh >= self.settings.registry_refresh_s:
            self._last_refresh = time.monotonic()
            try:
                self.meters.refresh()
            except Exception as err:  # a database outage must not stop the ingest: keep the last snapshot
                log.warning("registry refresh failed", extra={"fields": {"error": str(err)[:300]}})

    def _write_loop(self) -> None:
        """Batches in order; batch k's lines are written while batch k+1 is judged (one write in flight).

        Batch k is acknowledged only after its write returned and its states were appended to the state
        log, and before batch k+1 is; the states of k+1 are in memory only until then. Any store failure
        undoes the batches not yet confirmed (newest first) and takes them again one at a time.
        """
        job: _Job | None = None
        try:
            while not self._stop.is_set():
                self._refresh_registry()
                if self.parts.compact_due():  # a snapshot must hold confirmed states only
                    if job is not None:
                        job = self._settle_or_recover(job)
                        if job is not None:
                            return  # stopping
                    self.parts.compact_if_due()
                batch = self._take_batch()
                if not batch:
                    if job is not None:
                        job = self._settle_or_recover(job)
                        if job is not None:
                            return
                    continue
                msgs = [m for _c, _mid, m in batch if m is not None]
                earlier = job

                def barrier(earlier: _Job | None = earlier) -> None:  # the previous batch stored first
                    if earlier is not None and not earlier.settled:
                        self._settle(earlier)

                prep: Prepared | None = None  # a failed prepare has undone its own changes already
                try:
                    prep = self.pipeline.prepare(msgs, barrier) if msgs else Prepared(Outcome(), [], {}, {})
                    if prep.out.rejections:
                        barrier()
                        self.store.write_rejections(prep.out.rejections)
                except StoreError as err:
                    self._store_failed(err, len(msgs))
                    job = self._recover(  # a prepared batch is undone before it is taken again
                        [earlier, _Job(batch, msgs, prep)] if earlier else [_Job(batch, msgs, prep)]
                    )
                    if job is not None:
                        return
                    continue
                if earlier is not None and not earlier.settled:
                    try:
                        self._settle(earlier)
                    except StoreError as err:
                        self._store_failed(err, len(earlier.msgs))
                        job = self._recover([earlier, _Job(batch, msgs, prep)])
                        if job is not None:
                            return
                        continue
                job = _Job(batch, msgs, prep)
                if prep.lines:
                    job.future = self._store_pool.submit(self.pipeline.write_lines, prep.lines)
                if self._gc is not None:
                    self._gc.between_batches()  # while the write is in flight
        finally:
            if job is not None and not job.settled and job.future is not None:
                try:  # stopping: a write that went through is acknowledged, else the session resends it
                    self._settle(job)
                except StoreError:
                    pass

    def _settle(self, job: _Job) -> None:
        """Wait for the job's write, make its states durable, acknowledge it. StoreError: it failed."""
        assert job.prep is not None
        if job.future is not None:
            job.future.result()
        self.parts.append(job.prep.frames)
        job.settled = True
        metrics.BATCH_SECONDS.observe(time.monotonic() - job.started_s)
        self._store_ok()
        self._ack(job.batch, job.msgs, job.prep.out)

    def _settle_or_recover(self, job: _Job) -> _Job | None:
        """Settle the job; on a store failure take it again alone. Returns the job only when stopping."""
        try:
            self._settle(job)
            return None
        except StoreError as err:
            self._store_failed(err, len(job.msgs))
            return self._recover([job])

    def _recover(self, jobs: list[_Job]) -> _Job | None:
        """A store failure with these batches unconfirmed (oldest first): undo the prepared ones newest
        first, then store them one at a time with retries (`_process_with_retry`). Returns the first job
        left unstored when stopping (its messages stay unacknowledged), else None."""
        for job in reversed(jobs):
            if job.prep is not None and not job.settled:
                self.pipeline.rollback(job.prep)
                job.future = None
        for job in jobs:
            if job.settled:
                continue
            out = self._process_with_retry(job.msgs) if job.msgs else Outcome()
            if out is None:
                return job
            job.settled = True
            self._ack(job.batch, job.msgs, out)
        return None

    def _ack(self, batch: list[tuple[int, int, Msg | None]], msgs: list[Msg], out: Outcome) -> None:
        with self._cond:
            sub, conn = self._sub, self._conn
        mids = [mid for c, mid, _m in batch if c == conn and mid]  # in the order received
        acked = sum(1 for c, mid, m in batch if c == conn and mid and m is not None)
        if sub is not None and mids:
            try:
                sub.ack(mids)
            except WireError as err:  # the connection broke: the broker resends them, they are duplicates
                log.warning("ack failed", extra={"fields": {"error": str(err)[:300]}})
                acked = 0
        if msgs:
            self._account(msgs, out, acked)

    def _store_ok(self) -> None:
        """A write went through: end an outage, if there was one."""
        if self.store_failing_since_s is not None:
            log.info(
                "store writes succeed again",
                extra={"fields": {"outage_s": round(time.time() - self.store_failing_since_s, 1)}},
            )
            self.store_failing_since_s = None

    def _store_failed(self, err: StoreError, messages: int) -> None:
        metrics.STORE_ERRORS.inc()
        if self.store_failing_since_s is None:
            self.store_failing_since_s = time.time()
        log.warning(
            "store write failed, holding batch unacked",
            extra={"fields": {"messages": messages, "error": str(err)[:300]}},
        )

    def _account(self, msgs: list[Msg], out: Outcome, acked: int) -> None:
        done_s = time.time()
        self.last_write_s = done_s
        metrics.INFLIGHT.dec(len(msgs))
        metrics.ACKED.inc(acked)
        metrics.WRITTEN.inc(out.written)
        metrics.BATCH_READINGS.observe(out.written)
        metrics.DUPLICATES.inc(out.events.get(DUPLICATE, 0))
        metrics.MISSING.inc(out.missing)
        metrics.FILLED.inc(out.filled)
        metrics.METERS.set(len(self.parts.states))
        for kind, n in out.events.items():
            metrics.EVENTS.labels(kind).inc(n)
        metrics.RECEIVE_TO_STORED.observe(done_s - msgs[0].received_s)
        if out.newest_ts_s:
            metrics.LAG_SECONDS.observe(max(0.0, done_s - out.newest_ts_s))
        reasons = Counter(r.reason for r in out.rejections)
        for reason, n in reasons.items():
            metrics.REJECTED.labels(reason).inc(n)
        for rej in out.rejections[:20]:  # a flood must not flood the log too: the rest are counted
            log.info(
                "rejected message",
                extra={
                    "fields": {"topic": rej.topic[:200], "reason": rej.reason, "detail": rej.detail[:300]}
                },
            )
        if out.events.get(GAP):
            log.info("sequence gaps", extra={"fields": {"gaps": out.events[GAP], "missing": out.missing}})
        self.written += out.written
        self.rejected += len(out.rejections)
        self.acked += acked
        self.events.update(out.events)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the network and writer threads."""
        if self._gc is not None:
            self._gc.start()
        self._writer.start()
        self._net.start()

    def cut_connection(self) -> None:
        """Break the broker connection as a network fault would (tests): the worker reconnects."""
        sub = self._sub
        if sub is not None:
            try:
                sub.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Wait until connected and subscribed."""
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
            "queued": len(self._queue),
            "meters": len(self.parts.states),
            "partitions": sorted(self._owned),
            "written": self.written,
            "rejected": self.rejected,
            "acked": self.acked,
            "last_write_s": self.last_write_s,
            "writer_alive": self._writer.is_alive(),
            "hot_path": self.hot_path,
        }

    def stop(self) -> None:
        """Stop: the batch in hand is finished (or left unacked), the session keeps the rest."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._writer.join(timeout=30)
        self._store_pool.shutdown(wait=False)
        self._net.join(timeout=5)
        self.parts.close()
        if self._gc is not None:
            self._gc.stop()
