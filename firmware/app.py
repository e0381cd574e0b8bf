"""The meter application: count, keep the total, take readings, store and forward them."""

import gc
import json

import config
import hal
import protocol
import store
from micropython import const
from mqtt_client import MQTTClient, MQTTException

_PRESYNC_MAX = const(60)  # readings held in RAM before the first NTP answer
_STEP_MAX_MS = const(60000)  # a clock step larger than this needs a second NTP answer to agree
_NTP_RETRY_MS = const(60000)
_PAYLOAD_BYTES = const(4096)  # 60 readings of at most 62 bytes, plus the envelope


class Meter:
    """One water meter; hardware objects are passed in so a simulator can supply its own."""

    def __init__(self, cfg, clock, counter, wifi, flash, rtc, reset_cause="unknown", watchdog=None, packet=None):
        self.cfg = cfg
        self.clock = clock
        self.counter = counter
        self.wifi = wifi
        self.flash = flash
        self.rtc = rtc
        self.reset_cause = reset_cause
        self.watchdog = watchdog
        self.meter_id = cfg["meter_id"]
        prefix = cfg["topic_prefix"]
        self.t_readings = protocol.topic(prefix, self.meter_id, "readings")
        self.t_status = protocol.topic(prefix, self.meter_id, "status")
        self.t_config = protocol.topic(prefix, self.meter_id, "config")
        # One packet buffer for the life of the board, allocated before the heap fragments;
        # batches are built straight into it (MQTTClient.payload_buffer).
        self.packet = packet if packet is not None else bytearray(_PAYLOAD_BYTES + 128)
        self.ring = store.Ring(flash, cfg["buffer_max"])
        self.commit_ml = config.ml_from_litres(cfg["commit_l"])
        self.unix_offset_ms = None  # unix ms minus mono ms, once NTP has answered
        self.step_candidate_ms = None
        self.next_sync_ms = 0
        self.presync = []  # (seq, mono_ms, boot, total_ml), oldest first
        self.presync_due_ms = 0
        self.next_due_s = 0
        self.mqtt = None
        self.retry_at_ms = None
        self.backoff_ms = 1000
        self.config_request = None
        self.config_result = None
        self.announced = False
        self.mem_low = None
        self.commits = 0
        self._restore()

    # -- persistence -------------------------------------------------------------
    def _restore(self):
        saved = self.flash.load_json(store.CONFIG_FILE) or {}
        rtc_state = store.unpack_state(self.rtc.read())
        commit_state = store.unpack_state(self.flash.read(store.COMMIT_FILE))
        last = self.ring.last()
        ring_state = (last[2], last[0], 0, 0, last[3]) if last else None
        best = store.newest(rtc_state, commit_state, ring_state) or (0, 0, 0, 0, 0)
        source = "rtc" if best is rtc_state else "commit" if best is commit_state else "ring"
        if best is not rtc_state and best is not commit_state and last is None:
            source = "none"
        _boot, self.seq, _acked, _dropped, self.total_ml = best
        known = [s for s in (rtc_state, commit_state) if s is not None]
        self.acked = min(max([s[2] for s in known] + [0]), self.seq)
        self.dropped = max([s[3] for s in known] + [0])
        self.boot = max([saved.get("boot", 0), best[0]] + [s[0] for s in known]) + 1
        self.last_ts = last[1] if last else 0
        self.interval_s = saved.get("interval_s", self.cfg["interval_s"])
        self.ml_per_pulse = saved.get("ml_per_pulse", config.ml_from_litres(self.cfg["l_per_pulse"]))
        self.cfg_last = saved.get("cfg_last")
        self._save_config()
        self._save_rtc()
        self._commit()
        print("boot: total_ml=%d seq=%d acked=%d boot=%d source=%s cause=%s"
              % (self.total_ml, self.seq, self.acked, self.boot, source, self.reset_cause))

    def _save_config(self):
        self.flash.save_json(store.CONFIG_FILE, {
            "boot": self.boot, "interval_s": self.interval_s, "ml_per_pulse": self.ml_per_pulse,
            "cfg_last": self.cfg_last,
        })

    def _state(self):
        return store.pack_state(self.boot, self.seq, self.acked, self.dropped, self.total_ml)

    def _save_rtc(self):
        self.rtc.write(self._state())

    def _commit(self):
        self.flash.write(store.COMMIT_FILE, self._state())
        self.committed_ml = self.total_ml
        self.commits += 1

    def count(self):
        """Take the counter's pulses into the total; commit to flash once commit_l has accumulated."""
        n = self.counter.take()
        if n:
            self.total_ml += n * self.ml_per_pulse
            self._save_rtc()
            if abs(self.total_ml - self.committed_ml) >= self.commit_ml:
                self._commit()

    # -- time ----------------------------------------------------------------------
    def unix_s(self, mono_ms=None):
        """Unix seconds now (or at mono_ms), or None before the first NTP answer."""
        if self.unix_offset_ms is None:
            return None
        if mono_ms is None:
            mono_ms = self.clock.mono_ms()
        return (mono_ms + self.unix_offset_ms) // 1000

    def sync_time(self):
        """Ask NTP; accept small corrections at once and large steps only when confirmed."""
        ntp_s = self.clock.ntp_unix_s(self.cfg["ntp_host"])
        mono = self.clock.mono_ms()
        if ntp_s is None:
            self.next_sync_ms = mono + _NTP_RETRY_MS
            return False
        offset = ntp_s * 1000 - mono
        old = self.unix_offset_ms
        self.next_sync_ms = mono + self.cfg["ntp_resync_s"] * 1000
        if old is not None:
            step = offset - old
            if -1000 < step < 1000:
                return True  # NTP has whole seconds: keep the finer offset we have
            if not -_STEP_MAX_MS <= step <= _STEP_MAX_MS:
                cand = self.step_candidate_ms
                if cand is None or not -2000 < offset - cand < 2000:
                    print("time: NTP step of %d ms not confirmed yet" % step)
                    self.step_candidate_ms = offset
                    self.next_sync_ms = mono + _NTP_RETRY_MS
                    return False
            print("time: stepped by %d ms" % step)
        self.step_candidate_ms = None
        self.unix_offset_ms = offset
        now = self.unix_s(mono)
        self.next_due_s = (now // self.interval_s + 1) * self.interval_s
        if self.presync:
            self._stamp_presync()
        return True

    def _stamp_presync(self):
        for seq, mono, boot, total in self.presync:
            ts = self.unix_s(mono)
            if ts > self.last_ts:
                self._store_reading(seq, ts, boot, total)
            else:
                print("time: reading %d cannot be stamped after %d" % (seq, self.last_ts))
        self.presync = []
        self._save_rtc()

    # -- readings --------------------------------------------------------------------
    def take_reading(self, ts):
        """Record the register; ts None means the clock is not known yet (stamped at sync)."""
        self.count()
        if ts is None:
            if len(self.presync) >= _PRESYNC_MAX:
                return  # the total keeps counting; only the granularity of unsynced time is lost
            self.seq += 1
            self.presync.append((self.seq, self.clock.mono_ms(), self.boot, self.total_ml))
            self._save_rtc()
            return
        if ts <= self.last_ts:
            return  # never two readings for one timestamp (clock stepped back)
        self.seq += 1
        self._store_reading(self.seq, ts, self.boot, self.total_ml)
        self._save_rtc()

    def _store_reading(self, seq, ts, boot, total):
        self.ring.put(seq, ts, boot, total)
        self.last_ts = ts
        if total == self.total_ml:
            self.committed_ml = total  # the ring record is itself a flash commit
        over = seq - self.ring.slots - self.acked
        if over > 0:  # the ring overwrote readings the broker never acknowledged
            self.dropped += over
            self.acked += over

    def _build_batch(self, buf):
        """Payload of the ring records after `acked` (ascending, one boot, at most max_batch) in buf.

        Returns (length, last seq in it), or (0, 0) when nothing is ready to send.
        """
        s = self.acked + 1
        stop = self.presync[0][0] if self.presync else self.seq + 1
        n = 0
        i = 0
        boot = None
        last = 0
        while s < stop and n < self.cfg["max_batch"]:
            rec = self.ring.get(s)
            if rec is None:
                if n:
                    break
                self.acked = s  # never stored (unstampable, or taken before a reset): nothing to send
            elif boot is not None and rec[2] != boot:
                break
            else:
                if boot is None:
                    boot = rec[2]
                    i = protocol.batch_open(buf, self.meter_id, boot)
                i = protocol.batch_add(buf, i, rec[0], rec[1], rec[3])
                last = rec[0]
                n += 1
            s += 1
        if not n:
            return 0, 0
        return protocol.batch_close(buf, i), last

    # -- link ----------------------------------------------------------------------
    def _status_fields(self):
        mem = hal.mem_free()
        self.mem_low = mem if self.mem_low is None else min(self.mem_low, mem)
        fields = {
            "fw": config.FW_VERSION, "boot": self.boot, "reset_cause": self.reset_cause,
            "uptime_s": self.clock.mono_ms() // 1000, "rssi_dbm": self.wifi.rssi_dbm(),
            "mem_free": mem, "mem_low": self.mem_low, "interval_s": self.interval_s,
            "l_per_pulse": self.ml_per_pulse / 1000, "dropped": self.dropped,
            "buffered": self.seq - self.acked, "synced": self.unix_offset_ms is not None,
            "counter": self.counter.mode, "flash_writes": self.flash.writes,
            "ts": self.unix_s() or 0,
        }
        if self.config_result is not None:
            fields["config"] = self.config_result
        return fields

    def _feed(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def _on_message(self, topic, msg):
        if topic == self.t_config.encode() and msg:
            self.config_request = msg

    def connect(self):
        cfg = self.cfg
        client = MQTTClient(self.meter_id, cfg["broker_host"], cfg["broker_port"],
                            user=cfg["mqtt_user"], password=cfg["mqtt_password"],
                            keepalive=cfg["keepalive_s"], ssl=cfg["mqtt_tls"], buf=self.packet)
        client.set_last_will(self.t_status, protocol.status("offline"), retain=True, qos=1)
        client.set_callback(self._on_message)
        self.mqtt = client
        client.connect(clean_session=False)
        self._feed()
        client.publish(self.t_status, protocol.status("online", **self._status_fields()), retain=True, qos=1)
        if cfg["ha_discovery"] and not self.announced:
            client.publish(protocol.discovery_topic(cfg["ha_prefix"], self.meter_id),
                           protocol.discovery(self.meter_id, self.t_readings, self.t_status, config.FW_VERSION),
                           retain=True, qos=1)
            self.announced = True
        client.subscribe(self.t_config, qos=1)
        print("mqtt: connected as", self.meter_id)

    def link_up(self):
        """True when connected to the broker; (re)connects with exponential backoff and jitter."""
        if self.mqtt is not None:
            return True
        now = self.clock.mono_ms()
        if self.retry_at_ms is not None and now < self.retry_at_ms:
            return False
        if not self.wifi.connect() and not self.wifi.connected():
            self._schedule_retry(now)
            return False
        try:
            self.connect()
            self.backoff_ms = 1000
            self.retry_at_ms = None
            return True
        except (OSError, MQTTException) as err:
            print("mqtt: connect failed:", err)
            self._drop_link()
            self._schedule_retry(now)
            return False

    def _schedule_retry(self, now):
        import random

        jitter = random.getrandbits(10) * self.backoff_ms // 4096
        self.retry_at_ms = now + self.backoff_ms + jitter
        self.backoff_ms = min(self.backoff_ms * 2, 300000)

    def _drop_link(self):
        if self.mqtt is not None:
            self.mqtt.close()
        self.mqtt = None

    def flush(self):
        """Replay buffered readings oldest first, in batches; each leaves the ring only after its PUBACK."""
        while self.acked < self.seq and self.link_up():
            n, last = self._build_batch(self.mqtt.payload_buffer())
            if not n:
                return
            try:
                self.mqtt.publish_prepared(self.t_readings, n, qos=1)
            except (OSError, MQTTException) as err:
                print("mqtt: publish failed:", err)
                self._drop_link()
                return
            self.acked = last
            self._save_rtc()
            self._feed()

    def service(self):
        if self.mqtt is None:
            return
        try:
            self.mqtt.maintain()
        except (OSError, MQTTException) as err:
            print("mqtt: link lost:", err)
            self._drop_link()
            return
        if self.config_request is not None:
            msg, self.config_request = self.config_request, None
            self.apply_config(msg)

    # -- remote configuration ------------------------------------------------------
    def apply_config(self, msg):
        """Validate and apply a config request once (it is retained, so it returns on every connect)."""
        try:
            req = json.loads(msg)
        except ValueError:
            req = None
        req_id = req.get("id") if isinstance(req, dict) else None
        key = req_id if isinstance(req_id, str) else "crc:%d" % store._crc(bytes(msg))
        if key == self.cfg_last:
            return
        changes, error = config.validate_request(req)
        if changes:
            if "l_per_pulse" in changes:
                self.count()
                self.ml_per_pulse = config.ml_from_litres(changes["l_per_pulse"])
            if "set_total_l" in changes:
                now = self.unix_s()
                self.take_reading(now)
                self.total_ml = config.ml_from_litres(changes["set_total_l"])
                self.boot += 1
                self.take_reading(None if now is None else now + 1)
                self._commit()
            if "interval_s" in changes:
                self.interval_s = int(changes["interval_s"])
                now = self.unix_s()
                if now is not None:
                    self.next_due_s = (now // self.interval_s + 1) * self.interval_s
        self.cfg_last = key
        self._save_config()
        self.config_result = {"id": req_id, "ok": error is None}
        if error:
            self.config_result["error"] = error
        print("config:", self.config_result)
        try:
            self.mqtt.publish(self.t_status, protocol.status("online", **self._status_fields()), retain=True, qos=1)
        except (OSError, MQTTException):
            self._drop_link()

    # -- main loop -----------------------------------------------------------------
    def step(self):
        """One pass of the loop: time, counting, readings, link."""
        self._feed()
        mono = self.clock.mono_ms()
        if mono >= self.next_sync_ms and self.wifi.connected():
            self.sync_time()
        now = self.unix_s()
        if now is not None:
            if now >= self.next_due_s:
                self.take_reading(now - now % self.interval_s)
                self.next_due_s = (now // self.interval_s + 1) * self.interval_s
                self._sample_mem()
                if self.seq % 1440 == 0:  # daily at 60 s: what a serial console should see
                    print("health: mem_low=%d flash_writes=%d commits=%d dropped=%d"
                          % (self.mem_low, self.flash.writes, self.commits, self.dropped))
            else:
                self.count()
        elif mono >= self.presync_due_ms:
            self.take_reading(None)
            self.presync_due_ms = mono + self.interval_s * 1000
        else:
            self.count()
        self.flush()
        self.service()

    def _sample_mem(self):
        mem = hal.mem_free()
        self.mem_low = mem if self.mem_low is None else min(self.mem_low, mem)

    def sleep_ms(self):
        """How long to sleep before the next step."""
        poll_ms = self.cfg["counter_poll_s"] * 1000
        mono = self.clock.mono_ms()
        if self.unix_offset_ms is not None:
            due = self.next_due_s * 1000 - self.unix_offset_ms - mono
        else:
            due = self.presync_due_ms - mono
        if self.mqtt is None and self.retry_at_ms is not None and self.acked < self.seq:
            due = min(due, self.retry_at_ms - mono)
        return max(1, min(poll_ms, due))

    def run(self):
        self.wifi.connect()
        for _ in range(100):
            if self.wifi.connected():
                break
            self._feed()
            self.clock.sleep_ms(100)
            self.count()
        if self.wifi.connected():
            self.sync_time()
        self.take_reading(self.unix_s())  # the reading at boot
        self.presync_due_ms = self.clock.mono_ms() + self.interval_s * 1000
        while True:
            self.step()
            self.clock.sleep_ms(self.sleep_ms())


def main(cfg, packet=None):
    """Build the real hardware objects for the checked site config and run the meter forever."""
    counter = hal.PulseCounter(cfg["counter_pin"], cfg["sensor"], cfg["edge"], cfg["pull"], cfg["debounce_ms"])
    wdt = hal.Watchdog(cfg["wdt_s"])
    meter = Meter(cfg, hal.Clock(), counter, hal.WiFi(cfg["wifi_ssid"], cfg["wifi_password"]),
                  store.Flash(), hal.RtcMemory(), hal.reset_cause(), wdt, packet)
    gc.collect()
    meter.run()
