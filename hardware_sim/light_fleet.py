"""Hundreds of light meters in one thread: one paho client per meter, one selector loop for all."""

from __future__ import annotations

import heapq
import random
import selectors
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from hardware_sim.clock import VirtualClock
from hardware_sim.light_meter import LightMeter


@dataclass
class LightLinkConfig:
    """Broker connection settings shared by the light meters of a fleet."""

    broker_host: str
    broker_port: int
    keepalive_s: int = 120
    ha_discovery: bool = True
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    drain_wait_s: float = 60.0  # after the last reading, wait this long (real) for PUBACKs
    connect_timeout_s: float = 30.0


class _Link:
    """One meter's paho client driven by the fleet's loop (paho's external-loop API)."""

    def __init__(self, fleet: LightFleet, meter: LightMeter, cfg: LightLinkConfig):
        self.fleet = fleet
        self.meter = meter
        self.connected = False
        self.connecting_since: float | None = None  # CONNECT sent, no CONNACK yet
        self.ever_connected = False
        self.announced = False
        self.retry_at = 0.0
        self.backoff_s = 1.0
        self.in_flight_mid: int | None = None
        self.config_request: bytes | None = None
        self.last_error: str | None = None
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=meter.meter_id, clean_session=False)
        user, password = cfg.credentials.get(meter.meter_id, (None, None))
        if user is not None:
            c.username_pw_set(user, password)
        c.will_set(meter.t_status, '{"v": 1, "state": "offline"}', qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_socket_open = fleet._sock_open
        c.on_socket_close = fleet._sock_close
        c.on_socket_register_write = fleet._want_write
        c.on_socket_unregister_write = fleet._done_write
        self.client = c

    def connect(self, cfg: LightLinkConfig) -> None:
        self.connecting_since = time.monotonic()
        try:
            if self.client.host:
                self.client.reconnect()
            else:
                self.client.connect(cfg.broker_host, cfg.broker_port, cfg.keepalive_s)
        except OSError as err:  # broker down or refusing: retry with backoff, like the firmware
            self._schedule_retry(f"connect failed: {err}")

    def _schedule_retry(self, why: str) -> None:
        self.last_error = why
        self.connected = False
        self.connecting_since = None
        self.retry_at = time.monotonic() + self.backoff_s * (1 + random.random() / 4)
        self.backoff_s = min(self.backoff_s * 2, 30.0)

    def _on_connect(self, client, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._schedule_retry(f"connect refused: {reason_code}")
            return
        self.connected = self.ever_connected = True
        self.connecting_since = None
        self.last_error = None
        self.backoff_s = 1.0
        m = self.meter
        client.publish(m.t_status, m.status(self.fleet.position_s), qos=1, retain=True)
        if self.fleet.cfg.ha_discovery and not self.announced:
            topic, payload = m.discovery()
            client.publish(topic, payload, qos=1, retain=True)
            self.announced = True
        client.subscribe(m.t_config, qos=1)
        # paho resends an unacknowledged batch itself on reconnect (same mid).
        self.send()

    def _on_disconnect(self, _c, _u, _flags, reason_code, _props) -> None:
        if self.fleet.closing:
            self.connected = False
            self.connecting_since = None
            return
        self._schedule_retry(f"disconnected: {reason_code}")

    def _on_publish(self, _c, _u, mid, _rc, _props) -> None:
        if mid == self.in_flight_mid:
            self.in_flight_mid = None
            self.meter.acked()
            self.fleet.readings_acked += 1
            self.send()

    def _on_message(self, _c, _u, msg) -> None:
        if msg.topic == self.meter.t_config and msg.payload:
            self.config_request = bytes(msg.payload)

    def send(self) -> None:
        """Publish the next batch when connected and nothing is in flight."""
        if not self.connected or self.in_flight_mid is not None:
            return
        batch = self.meter.next_batch()
        if batch is None:
            return
        payload, _n = batch
        info = self.client.publish(self.meter.t_readings, payload, qos=1)
        self.in_flight_mid = info.mid
        self.fleet.batches_sent += 1

    @property
    def backlog(self) -> int:
        return len(self.meter.buffer)


class LightFleet:
    """Runs light meters on the fleet's virtual clock in one thread; call start(), then join()."""

    def __init__(self, meters: list[LightMeter], cfg: LightLinkConfig, stop_s: int,
                 clock: VirtualClock | None = None):
        if not meters:
            raise ValueError("a light fleet needs at least one meter")
        self.meters = meters
        self.cfg = cfg
        self.stop_s = stop_s
        self.clock = clock or VirtualClock()
        self.position_s = 0
        self.closing = False
        self.error: str | None = None
        self.batches_sent = 0
        self.readings_acked = 0
        self.unsent = 0
        self._sel = selectors.DefaultSelector()
        self._writers: set[mqtt.Client] = set()
        self._links = [_Link(self, m, cfg) for m in meters]
        self._thread: threading.Thread | None = None
        self._clock_id: int | None = None
        self._connect_deadline = 0.0

    # -- paho external-loop callbacks --------------------------------------------------
    def _sock_open(self, client, _u, sock) -> None:
        self._sel.register(sock, selectors.EVENT_READ, client)

    def _sock_close(self, client, _u, sock) -> None:
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass  # already gone
        self._writers.discard(client)

    def _want_write(self, client, _u, _sock) -> None:
        self._writers.add(client)

    def _done_write(self, client, _u, _sock) -> None:
        self._writers.discard(client)

    # -- running -------------------------------------------------------------------
    def start(self) -> None:
        self._clock_id = self.clock.join(0)
        self._thread = threading.Thread(target=self._run, name="light-meters", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as err:  # report any failure of the loop thread to run_fleet, never hang it
            self.error = f"light meters failed: {type(err).__name__}: {err}"
        finally:
            if self._clock_id is not None:
                self.clock.leave(self._clock_id)
                self._clock_id = None
            try:
                self._close()
            except Exception as err:  # the goodbye is best effort; keep the first error
                self.error = self.error or f"light meters failed to close: {type(err).__name__}: {err}"

    def _network(self, timeout_s: float) -> None:
        for key, _ev in self._sel.select(timeout_s):
            key.data.loop_read(20)
        for client in list(self._writers):
            client.loop_write()

    def _housekeeping(self) -> None:
        now = time.monotonic()
        for link in self._links:
            if link.connected:
                link.client.loop_misc()  # keepalive pings, so the last will is meaningful
            elif link.connecting_since is not None:
                if now - link.connecting_since > 10:
                    link._schedule_retry("no CONNACK within 10 s")
            elif now >= link.retry_at:
                link.connect(self.cfg)
            if link.config_request is not None:
                msg, link.config_request = link.config_request, None
                self._apply_config(link, msg)

    def _apply_config(self, link: _Link, msg: bytes) -> None:
        m = link.meter
        old_interval = m.interval_s
        if not m.apply_config(msg, self.position_s):
            return
        if m.interval_s != old_interval:
            self._schedule(self._links.index(link), m.next_due_s(self.position_s))
        if link.connected:
            link.client.publish(m.t_status, m.status(self.position_s), qos=1, retain=True)
        link.send()

    def _schedule(self, i: int, due_s: int) -> None:
        self._gen[i] += 1
        heapq.heappush(self._due, (due_s, i, self._gen[i]))

    def _keeping_up(self) -> bool:
        """No connected meter has more than a batch waiting: take the next readings."""
        return all(not link.connected or link.backlog <= link.meter.max_batch for link in self._links)

    def _tick(self) -> bool:
        """Take every reading due at the earliest due time, if the clock allows; False when it cannot."""
        due_s = self._due[0][0]
        if not self.clock.may_advance(self._pid, due_s * 1000) or not self._keeping_up():
            return False
        self.position_s = due_s
        self.clock.moved(self._pid, due_s * 1000)
        while self._due and self._due[0][0] == due_s:
            _due, i, gen = heapq.heappop(self._due)
            if gen != self._gen[i]:
                continue  # rescheduled by a config change
            m = self._links[i].meter
            m.take_reading(due_s)
            nxt = m.next_due_s(due_s)
            if nxt < self.stop_s:
                self._schedule(i, nxt)
            self._links[i].send()
        return True

    def _loop(self) -> None:
        self._due: list[tuple[int, int, int]] = []
        self._gen = [0] * len(self._links)
        for i, link in enumerate(self._links):
            link.meter.take_reading(0)  # the reading at boot
            self._schedule(i, link.meter.next_due_s(0))
            link.connect(self.cfg)
        next_misc = 0.0
        self._connect_deadline = time.monotonic() + self.cfg.connect_timeout_s
        while self._due:
            ticked = 0
            while self._due and ticked < 20 and self._tick():
                ticked += 1
            self._network(0 if ticked else 0.01)
            now = time.monotonic()
            if now >= next_misc:
                self._housekeeping()
                next_misc = now + 0.5
                self._check_connected(now)
        self.position_s = self.stop_s
        self.clock.leave(self._pid)
        self._clock_id = None
        self._drain()

    def _check_connected(self, now: float) -> None:
        never = [ln for ln in self._links if not ln.ever_connected]
        if never and now > self._connect_deadline:
            raise ConnectionError(f"{len(never)} light meters never connected to the broker "
                                  f"(first: {never[0].meter.meter_id}: {never[0].last_error})")

    @property
    def _pid(self) -> int:
        if self._clock_id is None:
            raise RuntimeError("the light fleet is not on the clock")
        return self._clock_id

    def _drain(self) -> None:
        """Wait for the last PUBACKs; give up after drain_wait_s without progress."""
        last_progress = time.monotonic()
        left = sum(ln.backlog for ln in self._links)
        next_misc = 0.0
        while left:
            self._network(0.02)
            now = time.monotonic()
            if now >= next_misc:
                self._housekeeping()
                next_misc = now + 0.5
                self._check_connected(now)
                for link in self._links:
                    link.send()
            still = sum(ln.backlog for ln in self._links)
            if still < left:
                left, last_progress = still, now
            elif now - last_progress > self.cfg.drain_wait_s:
                break
        self.unsent = sum(ln.backlog for ln in self._links)

    def _close(self) -> None:
        """Clean goodbye: offline status (retained) first, then DISCONNECT."""
        self.closing = True
        infos = []
        for link in self._links:
            if link.connected:
                infos.append(link.client.publish(link.meter.t_status, '{"v": 1, "state": "offline"}',
                                                 qos=1, retain=True))
        deadline = time.monotonic() + 5
        while any(not i.is_published() for i in infos) and time.monotonic() < deadline:
            self._network(0.02)
        for link in self._links:
            if link.connected:
                link.client.disconnect()
        self._network(0)
        for link in self._links:
            link.client.loop_misc()
            sock = link.client.socket()
            if sock is not None:
                self._sock_close(link.client, None, sock)
        self._sel.close()
