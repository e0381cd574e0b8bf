"""An in-process MQTT broker (amqtt) for `make demo` on machines without mosquitto, closed like mosquitto.

amqtt relays ~0.9k QoS 1 messages/s here (FACTS.md): plenty for a demo fleet, not for load. The same
rules as the mosquitto broker (devservices/acl.py): no anonymous client, a user per meter (its id) that
may publish only its own readings and status and read only its own config, services by role (only the
operator writes config). Passwords are kept as PBKDF2-SHA256 hashes in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from devservices.acl import allowed
from devservices.mosquitto import DEFAULT_SERVICES
from devservices.ports import free_port, wait_listening

_BROKERS: dict[str, EmbeddedBroker] = {}
_ITERATIONS = 20_000


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)


class WmAuthPlugin(BaseAuthPlugin):
    """Users and their password hashes from the EmbeddedBroker that started this broker."""

    @dataclass
    class Config:
        key: str = ""

    async def authenticate(self, *, session: Session) -> bool | None:
        broker = _BROKERS.get(self.config.key)
        if broker is None or not session.username or session.password is None:
            return False
        return broker.check(session.username, str(session.password))


class WmTopicPlugin(BaseTopicPlugin):
    """devservices.acl's rules: meters their own topics, services by role."""

    @dataclass
    class Config:
        key: str = ""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        broker = _BROKERS.get(self.config.key)
        if broker is None or session is None or not session.username or not topic:
            return False
        if action == Action.RECEIVE:
            return True  # delivery of what a permitted subscription matched
        kind = "publish" if action == Action.PUBLISH else "subscribe"
        return allowed(session.username, broker.roles.get(session.username), kind, topic)


class EmbeddedBroker:
    """amqtt on 127.0.0.1:port in a background thread with its own event loop; closed by default."""

    def __init__(self, port: int | None = None, closed: bool = True, services: dict[str, str] | None = None):
        self.port = port or free_port()
        self.closed = closed
        self.key = secrets.token_hex(8)
        self.roles: dict[str, str] = dict(services or DEFAULT_SERVICES) if closed else {}
        self._users: dict[str, tuple[bytes, bytes]] = {}
        self.credentials = {name: self._add_user(name) for name in self.roles}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)
        self._broker = None

    def _add_user(self, name: str) -> str:
        password = secrets.token_urlsafe(18)
        salt = secrets.token_bytes(16)
        self._users[name] = (salt, _hash(password, salt))
        return password

    def add_meter(self, meter_id: str) -> str:
        """A meter's own user (name = meter id) with a random password."""
        return self._add_user(meter_id)

    def add_meters(self, meter_ids: list[str]) -> dict[str, str]:
        """Many meters' users; meter id → password."""
        return {m: self._add_user(m) for m in meter_ids}

    def check(self, user: str, password: str) -> bool:
        """Whether the password is the user's."""
        found = self._users.get(user)
        return found is not None and hmac.compare_digest(_hash(password, found[0]), found[1])

    def start(self) -> None:
        from amqtt.broker import Broker

        _BROKERS[self.key] = self
        plugins: dict = (
            {
                f"{__name__}.WmAuthPlugin": {"key": self.key},
                f"{__name__}.WmTopicPlugin": {"key": self.key},
            }
            if self.closed
            else {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        )
        listener = {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}
        config = {"listeners": {"default": listener}, "plugins": plugins}
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
        _BROKERS.pop(self.key, None)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
