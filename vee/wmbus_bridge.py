"""`python -m vee.wmbus_bridge`: wmbusmeters JSON on MQTT → readings in the store (QoS 1, ack after write).

A message is acknowledged only after the store confirmed its reading, or after a bad message was
written to the dead-letter store; a store outage holds messages unacknowledged and retries.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest.model import Rejection
from ingest.store import open_store
from ingest.store.base import Store, StoreError
from vee.wmbus import WmbusError, parse_wmbus

log = logging.getLogger("vee.wmbus_bridge")


class WmbusBridge:
    """Subscribe to one topic filter; write each water reading; count received, written, rejected."""

    def __init__(
        self,
        store: Store,
        host: str,
        port: int,
        topic: str,
        client_id: str = "wm-wmbus-bridge",
        prefix: str = "",
        retry_max_s: float = 30.0,
    ):
        self.store = store
        self.topic = topic
        self.prefix = prefix
        self.retry_max_s = retry_max_s
        self.host, self.port = host, port
        self.received = self.written = self.rejected = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda *_: self._connected.clear()

    def _on_connect(self, client, _userdata, _flags, reason_code, _props):
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        client.subscribe(self.topic, qos=1)
        self._connected.set()

    def _on_message(self, client, _userdata, msg):
        # One message, one small write: wmbus meters send a telegram every few minutes at most.
        self.received += 1
        try:
            reading = parse_wmbus(msg.payload, prefix=self.prefix)
            write = lambda: self.store.write_readings([reading])  # noqa: E731
        except WmbusError as err:
            rej = Rejection(msg.topic, err.reason, err.detail, msg.payload, time.time())
            write = lambda: self.store.write_rejections([rej])  # noqa: E731
            self.rejected += 1
            log.info("rejected %s: %s", msg.topic, err)
        else:
            self.written += 1
        delay = 0.2
        while not self._stop.is_set():
            try:
                write()
                break
            except StoreError as err:
                log.warning("store write failed, message held unacked: %s", err)
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
        else:
            return  # stopping: the broker redelivers the unacked message to our session
        client.ack(msg.mid, msg.qos)

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vee.wmbus_bridge", description=__doc__)
    p.add_argument("--broker", required=True, help="HOST:PORT")
    p.add_argument("--topic", default="wmbusmeters/#", help="MQTT topic filter wmbusmeters publishes on")
    p.add_argument("--store", required=True, help="store URL, e.g. influx://127.0.0.1:8086/water")
    p.add_argument("--client-id", default="wm-wmbus-bridge")
    p.add_argument("--prefix", default="", help="prefix for meter ids (e.g. wmbus-)")
    args = p.parse_args(argv)
    host, _, port = args.broker.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        p.error(f"--broker must be HOST:PORT, got {args.broker!r}")
    logging.basicConfig(
        level=logging.INFO, format='{"t":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}'
    )
    bridge = WmbusBridge(open_store(args.store), host, int(port), args.topic, args.client_id, args.prefix)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    bridge.start()
    done.wait()
    bridge.stop()
    bridge.store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
