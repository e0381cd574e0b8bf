"""Request body limits for every route: refused 413 from Content-Length, and again while streaming."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    """The body passed the limit while streaming."""


def _answer(status: int, detail: str) -> tuple[Message, Message]:
    body = orjson.dumps({"detail": detail})
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class BodyLimit:
    """ASGI middleware: at most `limit_of(method, path)` body bytes (None: the route limits itself)."""

    def __init__(self, app: ASGIApp, limit_of: Callable[[str, str], int | None]):
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_of(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._send(send, 400, "bad Content-Length")
                return
            if int(declared) > limit:
                detail = f"request body of {int(declared)} bytes is over the {limit} byte limit"
                await self._send(send, 413, detail)
                return
        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Whatever the route made of the interrupted body, the caller is told it was too large.
            if too_large:
                if not started:
                    started = True
                    await self._send(send, 413, f"request body is over the {limit} byte limit")
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                await self._send(send, 413, f"request body is over the {limit} byte limit")

    @staticmethod
    async def _send(send: Send, status: int, detail: str) -> None:
        start, body = _answer(status, detail)
        await send(start)
        await send(body)
