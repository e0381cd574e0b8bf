"""The meter application: count, keep the total, take readings, store and forward them."""

import gc
import json

import config
import hal
import protocol
import store
from micropython import const
from mqtt_client import MQTTClient, MQTTException
from timesync import TimeSync

_UNSTAMPED = const(0x80000000)  # in a stored reading's boot: its ts is seconds since that boot
_PAYLOAD_BYTES = const(4096)  # 60 readings of at most 62 bytes, plus the envelope
_CONFIG_MAX = const(1024)  # a config request is a few dozen bytes; larger messages are dropped unread


class Meter:
    """One water meter; hardware objects are passed in so a simulator can supply its own."""

    def __init__(self, cfg, clock, counter, wifi, flash, rtc, reset_cause="unknown", watchdog=None, packet=None,
                 rtc_gap_s=0):
        self.cfg = cfg
        self.clock = clock
        self.counter = counter
        self.wifi = wifi
        self.flash = flash
        self.reset_cause = reset_cause
        self.watchdog = watchdog
        self.meter_id = cfg["meter_id"]
        prefix = cfg["topic_prefix"]
        self.t_readings = protocol.topic(prefix, self.meter_id, "readings")
        self.t_status = protocol.topic(prefix, self.meter_id, "status")
        self.t_config = protocol.topic(prefix, self.meter_id, "config")
        self.t_ota = protocol.topic(prefix, self.meter_id, "ota")
        self.ota_request = None
        self.ota_result = None
        # One packet buffer for the life of the board, allocated before the heap fragments;
        # batches are built straight into it (MQTTClient.payload_buffer).
        self.packet = packet if packet is not None else bytearray(_PAYLOAD_BYTES + 128)
        self.log = store.Log(flash, cfg["buffer_max"])
        self.rtc = store.Rtc(rtc)
        self.battery = cfg["mode"] == "battery"
        self.commit_ml = config.ml_from_litres(cfg["commit_l"])
        self.ca = None
        if cfg["mqtt_tls"]:
            self.ca = flash.read(cfg["mqtt_ca"])
        self.presync_due_ms = 0
        self.sent_ts = 0  # newest time sent: a reading stamped late must come after it
        self.batch_ts = 0
        self.unstamped = 0
        self.next_due_s = 0
        self.mqtt = None
        self.retry_at_ms = None
        self.backoff_ms = 1000
        self.config_request = None
        self.config_result = None
        self.announced = False
        self.mem_low = None
        self.commits = 0
        self.dropped_in = 0
        self.last_error = None
        self.boot_committed = False
        self.batch_total_ml = 0
        self.rtc_gap_s = rtc_gap_s  # battery mode: how long a deep sleep may have lasted
        self._restore()
        self.time = TimeSync(clock, cfg["ntp_host"], cfg["ntp_resync_s"], self.last_ts)
        if self.rtc.flags & store.FLAG_SYNCED and reset_cause in ("watchdog", "deepsleep", "soft", "hard"):
            # The RTC ran on through this reset: believe it if it is just after the last reading.
            rtc_s = clock.rtc_unix_s()
            gap_s = self.rtc_gap_s if self.rtc_gap_s else 2 * self.interval_s + cfg["wdt_s"] + 60
            woke = self.rtc.next_upload_s  # battery mode: when this wake was due
            expected = (self.last_ts <= rtc_s <= self.last_ts + gap_s
                        or (reset_cause == "deepsleep" and woke and -600 < rtc_s - woke < 600))
            if expected and self.time.seed(rtc_s):
                self.next_due_s = (rtc_s // self.interval_s + 1) * self.interval_s
            else:
                print("time: RTC %d not believed (last reading %d)" % (rtc_s, self.last_ts))

    # -- persistence -------------------------------------------------------------
    def _restore(self):
        """Back to where the register was. Writes nothing: a boot loop must not wear flash.

        RTC memory, when valid, is exact (it is written on every change). After a power
        loss: the commit record and the newest reading in flash, whichever is newer, and a
        seq above the commit's lease, so no published seq is used twice.
        """
        saved = self.saved = self.flash.load_json(store.CONFIG_FILE) or {}
        self.last_error = self.rtc.note
        commit = store.unpack_state(self.flash.read(store.COMMIT_FILE))
        self.lease = commit[6] if commit else 0
        self.committed_ml = commit[4] if commit else 0
        state = self.rtc.state
        source = "rtc"
        if state is None:
            source = "commit" if commit else "none"
            state = commit or (0, 0, 0, 0, 0, 0, 0)
            last = self.log.last()
            if last and last[0] > state[1]:
                # An unstamped reading's boot field carries _UNSTAMPED: the counter is the rest of it.
                boot = last[2] & ~_UNSTAMPED
                state = (max(state[0], boot), last[0], state[2], state[3], last[3], last[1], 0)
                source = "log"
            state = state[:1] + (max(state[1], self.lease),) + state[2:]
        boot, self.seq, acked, self.dropped, self.total_ml, self.last_ts, _lease = state
        self.acked = min(acked, self.seq)
        self.sent_ts = self.last_ts
        self.boot = max(saved.get("boot", 0), boot, commit[0] if commit else 0) + 1
        if source == "rtc" and self.reset_cause == "deepsleep":
            self.boot = boot  # a wake from deep sleep goes on with the same boot (battery mode)
            self.boot_committed = True
        self.interval_s = saved.get("interval_s", self.cfg["interval_s"])
        self.ml_per_pulse = saved.get("ml_per_pulse", config.ml_from_litres(self.cfg["l_per_pulse"]))
        self.cfg_last = saved.get("cfg_last")
        self._save_rtc()
        print("boot: total_ml=%d seq=%d acked=%d boot=%d source=%s cause=%s counter=%s"
              % (self.total_ml, self.seq, self.acked, self.boot, source, self.reset_cause, self.counter.mode))

    def _save_config(self):
        self.saved.update({"boot": self.boot, "interval_s": self.interval_s, "ml_per_pulse": self.ml_per_pulse,
                           "cfg_last": self.cfg_last})
        self.flash.save_json(store.CONFIG_FILE, self.saved)

    def _state(self, lease=None):
        return store.pack_state(self.boot, self.seq, self.acked, self.dropped, self.total_ml, self.last_ts,
                                self.lease if lease is None else lease)

    def _save_rtc(self):
        self.rtc.save(self._state())

    @property
    def next_upload_s(self):
        return self.rtc.next_upload_s

    @next_upload_s.setter
    def next_upload_s(self, value):
        self.rtc.next_upload_s = value

    def save_sleep(self):
        """Everything RTC memory must hold through a deep sleep."""
        self._save_rtc()

    def _commit(self):
        """The commit record in flash: the total, and a seq lease 16 readings ahead."""
        self.boot_committed = True
        self.lease = self.seq + store.LEASE
        self.flash.write(store.COMMIT_FILE, self._state(self.lease))
        self.committed_ml = self.total_ml
        self.commits += 1

    def count(self):
        """Take the counter's pulses into the total; commit to flash once commit_l has accumulated."""
        n = self.counter.take()
        if n:
            self.total_ml += n * self.ml_per_pulse
            self._save_rtc()  # first: a flash write takes time, and a reset may come meanwhile
            if abs(self.total_ml - self.committed_ml) >= self.commit_ml:
                self._commit()

    # -- time ----------------------------------------------------------------------
    def unix_s(self, mono_ms=None):
        return self.time.unix_s(mono_ms)

    def sync_time(self):
        """Ask NTP when due (only with a link: a look-up without one stalls the CPU for seconds)."""
        if not self.wifi.connected():
            return False
        if not self.time.poll():
            if self.time.confirmed:  # keep the RTC right (it may have jumped) for the next reset
                self.time.confirmed = False
                self.clock.set_rtc(self.unix_s())
            return False
        now = self.unix_s()
        self.clock.set_rtc(now)
        self._stamp_stored()
        if not self.rtc.flags & store.FLAG_SYNCED:
            self.rtc.flags |= store.FLAG_SYNCED
            self._save_rtc()
        self.next_due_s = (now // self.interval_s + 1) * self.interval_s
        return True

    def _stamp_stored(self):
        """Give the readings this boot took without a clock their time, where they are stored.

        Done once, as soon as the clock is known: a reset before they are sent would take
        the boot's clock with it. Rewrites the flash segments that hold such readings.
        """
        me = self.boot | _UNSTAMPED
        rtc = self.rtc
        for i in range(rtc.count):
            rec = rtc.rec(i)
            if rec[2] == me:
                rtc.replace(i, (rec[0], self.unix_s(rec[1] * 1000), self.boot, rec[3]))
        for first in list(self.log.firsts):
            recs = self.log.segment(first)
            if any(r[2] == me for r in recs):
                recs = [(r[0], self.unix_s(r[1] * 1000), self.boot, r[3]) if r[2] == me else r for r in recs]
                self.log.append(first, recs)
        self._save_rtc()

    # -- readings --------------------------------------------------------------------
    def take_reading(self, ts):
        """Record the register; ts None means the clock is not known yet.

        Such a reading is stored like any other, with the seconds since boot instead of a time
        and its boot marked UNSTAMPED; it is stamped when sent, once NTP has answered (a reading
        of an earlier boot that was never stamped cannot be, and is dropped then).
        """
        self.count()
        if not self.boot_committed:
            # This boot is about to record readings: its number must survive a power loss (a boot
            # that never gets this far - a brown-out loop - writes nothing).
            self._commit()
        if ts is None:
            self.seq += 1
            self._store_reading(self.seq, self.clock.mono_ms() // 1000, self.boot | _UNSTAMPED, self.total_ml)
            self._save_rtc()
            return
        if ts <= self.last_ts:
            return  # never two readings for one timestamp (clock stepped back)
        self.seq += 1
        self._store_reading(self.seq, ts, self.boot, self.total_ml)
        self._save_rtc()

    def _store_reading(self, seq, ts, boot, total):
        if not self.rtc.append(seq, ts, boot, total):
            self._spill(force=True)
            self.rtc.append(seq, ts, boot, total)
        if not boot & _UNSTAMPED:
            self.last_ts = ts
            self.time.not_before_s = ts
        if seq >= self.lease:
            self._commit()
        self._spill()

    def _spill(self, force=False):
        """Move unacknowledged readings from RTC memory to a flash segment, 16 at a time.

        In battery mode readings wait in RTC memory for the hourly upload; only a nearly
        full RTC memory spills.
        """
        rtc = self.rtc
        while rtc.count:
            first = store.Log.first_of(rtc.rec(0)[0])
            last = first + store.SEG - 1
            nearly = rtc.count > store.RTC_RECS - store.SEG
            if not (force or nearly or (self.seq > last and not self.battery)):
                return  # its segment is not complete yet (or battery mode waits for the upload)
            group = [rtc.rec(i) for i in range(rtc.count) if rtc.rec(i)[0] <= last]
            force = False
            recs = []
            for s in range(first, last + 1):
                rec = self.log.get(s)  # a segment spilled early (RTC full) is completed, not replaced
                for r in group:
                    if r[0] == s:
                        rec = r
                recs.append(rec or (0, 0, 0, 0))
            over = self.log.append(first, recs)
            if over:  # the oldest segments went: count the unsent readings among them
                lost_to = self.log.firsts[0] - 1
                if lost_to > self.acked:
                    self.dropped += min(over, lost_to - self.acked)
                    self.acked = lost_to
            rtc.drop_through(last)
            self._save_rtc()

    def _get(self, seq):
        return self.rtc.find(seq) or self.log.get(seq)

    def _acked_to(self, seq):
        self.acked = seq
        self.rtc.drop_through(seq)
        self.log.release(seq)
        self._save_rtc()

    def _build_batch(self, buf):
        """Payload of the stored readings after `acked` (ascending, one boot, at most max_batch) in buf.

        Returns (length, last seq in it), or (0, 0) when nothing is ready to send. A reading
        taken before the clock was known is stamped here; it waits while the clock is still
        unknown, and one from an earlier boot (its clock is gone) is dropped.
        """
        s = self.acked + 1
        n = 0
        i = 0
        boot = None
        last = 0
        while s <= self.seq and n < self.cfg["max_batch"]:
            rec = self._get(s)
            if rec is not None and rec[2] & _UNSTAMPED:
                if rec[2] & ~_UNSTAMPED != self.boot:
                    rec = None  # taken in an earlier boot without a clock: it cannot be stamped
                elif not self.time.synced():
                    break  # wait for the clock
                else:
                    ts = self.unix_s(rec[1] * 1000)
                    rec = (rec[0], ts, self.boot, rec[3]) if ts > self.sent_ts else None
            if rec is None:
                if n:
                    break
                self.unstamped += 1 if s <= self.seq else 0
                self.acked = s  # nothing to send for this seq
            elif boot is not None and rec[2] != boot:
                break
            else:
                if boot is None:
                    boot = rec[2]
                    i = protocol.batch_open(buf, self.meter_id, boot)
                i = protocol.batch_add(buf, i, rec[0], rec[1], rec[3])
                last = rec[0]
                self.batch_total_ml = rec[3]
                self.batch_ts = rec[1]
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
            "buffered": self.seq - self.acked, "synced": self.time.synced(),
            "rtc_buffered": self.rtc.count, "flash_segments": len(self.log.firsts),
            "unstamped": self.unstamped,
            "counter": self.counter.mode, "flash_writes": self.flash.writes,
            "ts": self.unix_s() or 0,
        }
        if self.counter.fallback:
            fields["counter_fallback"] = self.counter.fallback
        if self.dropped_in:
            fields["dropped_in"] = self.dropped_in
        if self.last_error:
            fields["last_error"] = self.last_error
        if self.config_result is not None:
            fields["config"] = self.config_result
        if self.ota_result is not None:
            fields["ota"] = self.ota_result
        return fields

    def _feed(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def _on_message(self, topic, msg):
        if not msg:
            return
        if topic == self.t_config.encode():
            self.config_request = bytes(msg)  # msg is the client's receive buffer: copy the small request
        elif topic == self.t_ota.encode():
            self.ota_request = bytes(msg)

    def connect(self):
        cfg = self.cfg
        client = MQTTClient(self.meter_id, cfg["broker_host"], cfg["broker_port"],
                            user=cfg["mqtt_user"], password=cfg["mqtt_password"],
                            keepalive=cfg["keepalive_s"], ssl=cfg["mqtt_tls"], buf=self.packet,
                            ca=self.ca, max_in=_CONFIG_MAX)
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
        try:
            client.subscribe(self.t_ota, qos=1)
        except MQTTException as err:  # an older broker ACL without the ota topic: no updates, still a meter
            print("mqtt: no update announcements:", err)
        self._confirm_update()
        print("mqtt: connected as", self.meter_id)

    def link_up(self):
        """True when connected to the broker; (re)connects with exponential backoff and jitter."""
        if self.mqtt is not None:
            return True
        now = self.clock.mono_ms()
        if self.retry_at_ms is not None and now < self.retry_at_ms:
            return False
        if not self.wifi.ensure():
            self.retry_at_ms = None  # the station retries by itself; poll it at the loop's pace
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
            self.dropped_in += self.mqtt.dropped_in
            self.mqtt.close()
        self.mqtt = None

    def flush(self):
        """Replay buffered readings oldest first, in batches; each leaves the log only after its PUBACK."""
        while self.acked < self.seq and self.link_up():
            n, last = self._build_batch(self.mqtt.payload_buffer())
            if not n:
                return
            if self.batch_total_ml > self.committed_ml or last >= self.lease:
                # Nothing leaves the board that a power loss could take back: after a cut the
                # register restarts from the commit, which must not be below a published total.
                self._commit()
            try:
                self.mqtt.publish_prepared(self.t_readings, n, qos=1)
            except (OSError, MQTTException) as err:
                print("mqtt: publish failed:", err)
                self._drop_link()
                return
            self._acked_to(last)
            self.sent_ts = max(self.sent_ts, self.batch_ts)
            self._feed()

    def service(self):
        if self.mqtt is None:
            self.wifi.ensure()
            return
        try:
            self.mqtt.maintain()
        except (OSError, MQTTException) as err:
            print("mqtt: link lost:", err)
            self._drop_link()
            return
        if self.mqtt.dropped_in and self.config_result is None:
            self.config_result = {"id": None, "ok": False, "error": "message too large"}
            self._publish_status()
        if self.config_request is not None:
            msg, self.config_request = self.config_request, None
            self.apply_config(msg)
        if self.ota_request is not None:
            msg, self.ota_request = self.ota_request, None
            self.apply_ota(msg)

    def _publish_status(self):
        try:
            self.mqtt.publish(self.t_status, protocol.status("online", **self._status_fields()), retain=True, qos=1)
        except (OSError, MQTTException):
            self._drop_link()

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
        self._publish_status()

    # -- updates over the air -----------------------------------------------------
    def _confirm_update(self):
        """A pending update has reached the broker: it works, keep it (else main.py rolls it back)."""
        import ota

        if ota.pending(self.flash):
            ota.confirm(self.flash)

    def apply_ota(self, msg):
        """Fetch, check and stage an announced update, then restart into it (docs/protocol.md, ota)."""
        import ota

        req = None
        try:
            req = json.loads(msg)
            version = req["version"]
            key = "%s:%s" % (version, req["sha256"])
            if version == config.FW_VERSION or key == self.saved.get("ota_failed"):
                return
            modulus = int(self.flash.read(self.cfg["ota_key"]).strip(), 16)
            print("ota: fetching", version)
            ota.fetch(self.flash, req, self.ca or self.flash.read(self.cfg["mqtt_ca"]), modulus, self._feed)
        except (ota.OTAError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
                MQTTException) as err:
            print("ota: update refused:", err)
            self.ota_result = {"version": req.get("version") if isinstance(req, dict) else None,
                               "ok": False, "error": str(err)}
            self.saved["ota_failed"] = key if "key" in locals() else None
            self._save_config()
            self._publish_status()
            return
        self.ota_result = {"version": version, "ok": True}
        self._publish_status()
        print("ota: %s staged; restarting" % version)
        import machine

        self._drop_link()
        machine.reset()

    # -- main loop -----------------------------------------------------------------
    def step(self):
        """One pass of the loop: time, counting, readings, link."""
        self._feed()
        self.sync_time()
        now = self.unix_s()
        mono = self.clock.mono_ms()
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
            self.presync_due_ms += self.interval_s * 1000  # on a steady grid: one reading a minute
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
        if self.time.synced():
            due = self.next_due_s * 1000 - self.time.offset_ms - mono
        else:
            due = self.presync_due_ms - mono
        if self.wifi.connected():  # NTP is asked only with a link
            due = min(due, max(1000, self.time.next_ms - mono))
        if self.mqtt is None and self.retry_at_ms is not None and self.acked < self.seq:
            due = min(due, self.retry_at_ms - mono)
        return max(1, min(poll_ms, due))

    def run(self):
        self.wifi.ensure()
        for _ in range(100):  # up to 10 s for the first link, counting meanwhile
            if self.wifi.connected():
                break
            self._feed()
            self.clock.sleep_ms(100)
            self.wifi.ensure()
            self.count()
        self.sync_time()
        self.take_reading(self.unix_s())  # the reading at boot
        self.presync_due_ms = self.clock.mono_ms() + self.interval_s * 1000
        while True:
            self.step()
            self.clock.sleep_ms(self.sleep_ms())


def main(cfg, counter, packet=None):
    """Build the real hardware objects for the checked site config and run the meter forever."""
    clock = hal.Clock()
    wdt = hal.Watchdog(cfg["wdt_s"])
    meter = Meter(cfg, clock, counter, hal.WiFi(cfg["wifi_ssid"], cfg["wifi_password"], clock),
                  store.Flash(), hal.RtcMemory(), hal.reset_cause(), wdt, packet)
    gc.collect()
    meter.run()
