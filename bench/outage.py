"""InfluxDB down for 10 minutes under a steady stream: nothing acked, the broker queues, nothing lost.

Timeline (WM_OUTAGE_S, default 600 s; WM_OUTAGE_RATE msgs/s, default 300 = 18,000 meters at one
reading a minute): 60 s normal → influxd stopped for the outage while meters keep publishing
QoS 1 → influxd started → 60 s more → publishing stops; the clock then runs until every
published reading is stored. Prints published vs distinct stored points, the drain rate after
the outage, and the worker's peak resident memory (bounded: its queue is bounded, the backlog
waits in mosquitto's persistent session).
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devservices.influx import Influx
from devservices.mosquitto import Mosquitto
from ingest.config import IngestSettings
from ingest.worker import IngestWorker
from storage.readings.influx import InfluxStore

T0 = 1_764_000_000
METERS = 1000


class Publisher(threading.Thread):
    """Publishes readings of METERS meters round-robin at a fixed rate, QoS 1."""

    def __init__(self, port: int, rate: float):
        super().__init__(daemon=True)
        self.rate = rate
        self.sent = 0
        self.stop_flag = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="outage-pub")
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def run(self) -> None:
        t_start = time.monotonic()
        while not self.stop_flag.is_set():
            due = int((time.monotonic() - t_start) * self.rate)
            while self.sent < due:
                minute, meter = divmod(self.sent, METERS)
                payload = {
                    "v": 1,
                    "meter": f"o-{meter}",
                    "boot": 1,
                    "r": [{"seq": minute, "ts": T0 + 60 * minute, "total_l": minute * 2.5}],
                }
                self.client.publish(f"wm/v1/o-{meter}/readings", json.dumps(payload), qos=1)
                self.sent += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join()
        self.client.loop_stop()
        self.client.disconnect()


def main() -> None:
    outage_s = float(os.environ.get("WM_OUTAGE_S", 600))
    rate = float(os.environ.get("WM_OUTAGE_RATE", 300))
    work = Path(tempfile.mkdtemp(prefix="wm-outage-"))
    (work / "mosquitto").mkdir()
    (work / "influx").mkdir()
    broker = Mosquitto(work / "mosquitto")
    influx = Influx(work / "influx")
    broker.start()
    influx.start()
    store = InfluxStore.at(influx.url, "outage")
    worker = IngestWorker(
        IngestSettings(
            broker_host="127.0.0.1",
            broker_port=broker.port,
            client_id="outage-ingest",
            retry_max_s=5.0,
            state_path=str(work / "state.db"),
        ),
        store,
    )
    worker.start()
    worker.wait_connected(15)
    pub = Publisher(broker.port, rate)
    try:
        pub.start()
        print(
            f"publishing {rate:.0f} readings/s; InfluxDB goes down in 60 s for {outage_s:.0f} s", flush=True
        )
        time.sleep(60)
        acked_before = worker.acked
        influx.stop()
        t_down = time.monotonic()
        while time.monotonic() - t_down < outage_s:
            time.sleep(min(60, outage_s))
            print(
                f"  outage {time.monotonic() - t_down:5.0f} s: published {pub.sent:,}, "
                f"acked {worker.acked:,} (acked during the outage: {worker.acked - acked_before})",
                flush=True,
            )
        acked_in_outage = worker.acked - acked_before
        influx.start()
        t_up = time.monotonic()
        backlog = pub.sent - worker.acked
        sent_at_restart = pub.sent
        caught_up_s = None
        while time.monotonic() - t_up < 60 or caught_up_s is None:
            if caught_up_s is None and worker.acked >= sent_at_restart:
                caught_up_s = time.monotonic() - t_up
            if time.monotonic() - t_up > 1800:
                break
            time.sleep(0.5)
        pub.stop()
        published = pub.sent
        deadline = time.monotonic() + 1800
        while store.count_all_readings() < published and time.monotonic() < deadline:
            time.sleep(2)
        drained_s = time.monotonic() - t_up
        stored = store.count_all_readings()
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"published {published:,} readings; distinct points stored {stored:,} "
            f"({'nothing lost, nothing doubled' if stored == published else 'MISMATCH'})"
        )
        print(f"acked while InfluxDB was down: {acked_in_outage} (must be 0, within the batch in flight)")
        print(
            f"backlog at restart ≈ {backlog:,} readings, caught up {caught_up_s or float('nan'):.0f} s after "
            f"InfluxDB was back (≈ {backlog / max(caught_up_s or 1e9, 1e-9):,.0f} readings/s while new "
            f"ones kept arriving); everything stored {drained_s:.0f} s after"
        )
        print(f"peak resident memory of the process running the ingest: {peak_rss_mb:.0f} MB")
    finally:
        worker.stop()
        store.close()
        influx.cleanup()
        broker.cleanup()


if __name__ == "__main__":
    main()
