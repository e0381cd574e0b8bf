"""The meter application: count, keep the total, take readings, publish them."""

import json

import config
import hal
import protocol
from mqtt_client import MQTTClient, MQTTException

STATE_FILE = "state.json"


class Meter:
    """One water meter; hardware objects are passed in so a simulator can supply its own."""

    def __init__(self, cfg, clock, counter, wifi, storage):
        self.cfg = cfg
        self.clock = clock
        self.counter = counter
        self.wifi = wifi
        self.storage = storage
        self.meter_id = cfg["meter_id"]
        prefix = cfg["topic_prefix"]
        self.t_readings = protocol.topic(prefix, self.meter_id, "readings")
        self.t_status = protocol.topic(prefix, self.meter_id, "status")
        self.t_config = protocol.topic(prefix, self.meter_id, "config")
        state = storage.load(STATE_FILE) or {}
        self.total_ml = state.get("total_ml", 0)
        self.seq = state.get("seq", 0)
        self.boot = state.get("boot", 0) + 1
        self.interval_s = state.get("interval_s", cfg["interval_s"])
        self.ml_per_pulse = state.get("ml_per_pulse", config.ml_from_litres(cfg["l_per_pulse"]))
        self.pending = []  # (seq, ts, total_ml), oldest first
        self.dropped = 0
        self.mqtt = None
        self.retry_at_ms = None
        self.backoff_ms = 1000
        self.config_request = None
        self.boot_ms = clock.ticks_ms()
        self._save()

    # -- state -----------------------------------------------------------------
    def _save(self):
        self.storage.save(STATE_FILE, {
            "total_ml": self.total_ml, "seq": self.seq, "boot": self.boot,
            "interval_s": self.interval_s, "ml_per_pulse": self.ml_per_pulse,
        })

    def count(self):
        n = self.counter.take()
        if n:
            self.total_ml += n * self.ml_per_pulse

    def take_reading(self, ts):
        self.count()
        self.seq += 1
        self.pending.append((self.seq, ts, self.total_ml))
        if len(self.pending) > self.cfg["buffer_max"]:
            self.pending.pop(0)
            self.dropped += 1
        self._save()

    # -- link ----------------------------------------------------------------------
    def _status_fields(self):
        return {
            "fw": config.FW_VERSION, "boot": self.boot, "reset_cause": hal.reset_cause(),
            "uptime_s": self.clock.ticks_diff(self.clock.ticks_ms(), self.boot_ms) // 1000,
            "rssi_dbm": self.wifi.rssi_dbm(), "mem_free": hal.mem_free(),
            "interval_s": self.interval_s, "l_per_pulse": self.ml_per_pulse / 1000,
            "dropped": self.dropped, "ts": self.clock.unix_s(),
        }

    def _on_message(self, topic, msg):
        if topic == self.t_config.encode() and msg:
            self.config_request = msg

    def connect(self):
        cfg = self.cfg
        client = MQTTClient(self.meter_id, cfg["broker_host"], cfg["broker_port"],
                            user=cfg["mqtt_user"], password=cfg["mqtt_password"],
                            keepalive=cfg["keepalive_s"], ssl=cfg["mqtt_tls"])
        client.set_last_will(self.t_status, protocol.status("offline"), retain=True, qos=1)
        client.set_callback(self._on_message)
        client.connect(clean_session=False)
        self.mqtt = client
        client.publish(self.t_status, protocol.status("online", **self._status_fields()), retain=True, qos=1)
        client.subscribe(self.t_config, qos=1)
        print("mqtt: connected as", self.meter_id)

    def link_up(self):
        """True when connected to the broker; (re)connects with exponential backoff."""
        if self.mqtt is not None:
            return True
        now = self.clock.ticks_ms()
        if self.retry_at_ms is not None and self.clock.ticks_diff(now, self.retry_at_ms) < 0:
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
        """Publish pending readings in batches; each leaves the buffer only after its PUBACK."""
        while self.pending and self.link_up():
            chunk = self.pending[: self.cfg["max_batch"]]
            payload = protocol.batch(self.meter_id, self.boot, chunk)
            try:
                self.mqtt.publish(self.t_readings, payload, qos=1)
            except (OSError, MQTTException) as err:
                print("mqtt: publish failed:", err)
                self._drop_link()
                return
            del self.pending[: len(chunk)]

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
        try:
            req = json.loads(msg)
        except ValueError:
            req = None
        changes, error = config.validate_request(req)
        req_id = req.get("id") if isinstance(req, dict) else None
        if changes:
            if "interval_s" in changes:
                self.interval_s = int(changes["interval_s"])
            if "l_per_pulse" in changes:
                self.count()
                self.ml_per_pulse = config.ml_from_litres(changes["l_per_pulse"])
            if "set_total_l" in changes:
                self.take_reading(self.clock.unix_s())
                self.total_ml = config.ml_from_litres(changes["set_total_l"])
                self.boot += 1
                self.take_reading(self.clock.unix_s() + 1)
            self._save()
        result = {"id": req_id, "ok": error is None}
        if error:
            result["error"] = error
        fields = self._status_fields()
        fields["config"] = result
        try:
            self.mqtt.publish(self.t_status, protocol.status("online", **fields), retain=True, qos=1)
        except (OSError, MQTTException):
            self._drop_link()

    # -- main loop -----------------------------------------------------------------
    def run(self):
        clock = self.clock
        self.wifi.connect()
        for _ in range(100):
            if self.wifi.connected():
                break
            clock.sleep_ms(100)
        clock.sync(self.cfg["ntp_host"])
        now = clock.unix_s()
        self.take_reading(now)
        next_due = (now // self.interval_s + 1) * self.interval_s
        while True:
            now = clock.unix_s()
            if now >= next_due:
                self.take_reading(now - now % self.interval_s)
                next_due = (now // self.interval_s + 1) * self.interval_s
            else:
                self.count()
            self.flush()
            self.service()
            wait_s = min(next_due - clock.unix_s(), self.cfg["counter_poll_s"])
            clock.sleep_ms(max(wait_s, 0) * 1000 + 10)


def main(site_path="site_config.json"):
    """Build the real hardware objects and run the meter forever."""
    cfg = config.load(site_path)
    meter = Meter(cfg, hal.Clock(), hal.PulseCounter(cfg["counter_pin"]),
                  hal.WiFi(cfg["wifi_ssid"], cfg["wifi_password"]), hal.Storage())
    meter.run()
