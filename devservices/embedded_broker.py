"""An in-process MQTT broker (amqtt) for `make demo` on machines without mosquitto.

amqtt relays ~0.9k QoS 1 messages/s here (FACTS.md): plenty for a demo fleet, not for load.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from devservices.ports import free_port, wait_listening


class EmbeddedBroker:
    """amqtt on 127.0.0.1:port in a background thread with its own event loop."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)
        self._broker = None

    def start(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._thread.start()

        async def boot():
            self._broker = Broker(config)
            await self._broker.start()

        asyncio.run_coroutine_threadsafe(boot(), self._loop).result(timeout=15)
        # The readiness probe connects and hangs up without a CONNECT, which amqtt logs as an error.
        amqtt_log = logging.getLogger("amqtt")
        level = amqtt_log.level
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            wait_listening(self.port)
        finally:
            amqtt_log.setLevel(level)

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
