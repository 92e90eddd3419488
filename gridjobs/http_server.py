"""uvicorn as gridjobs serves with it: one write per answer, proxy headers read only when sent.

One write per answer. uvicorn writes an answer's head and its body separately,
and uvloop sends each at once: two syscalls and two TCP segments per answer, and
a client that wakes twice. `CoalescingHttpProtocol` gives uvicorn's protocol a
transport whose writes in one turn of the event loop are joined and sent at the
end of that turn (`loop.call_soon`), so a head and its body leave together.
Nothing waits longer than one turn, the bytes keep their order, a close sends
what is pending first and an abort drops it. Everything else is the real
transport's. In A/B runs of bench/intake.py's load (wrk, 32 connections), the
server made 1.08 write syscalls per POST instead of 2.08 and answered 3-7 % more.

Proxy headers. uvicorn's ProxyHeadersMiddleware parses the peer's address on
every request to learn whether it may trust X-Forwarded-Proto and -For.
`ForwardedHeaders` asks it only for a request that carries one of them: the
same scheme and client for every request, without the parse for the rest.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FORWARDED = (b"x-forwarded-proto", b"x-forwarded-for")


class CoalescedWrites:
    """A transport's stand-in: `write` joins what one turn of the loop writes."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():   # a closed connection takes nothing
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending or ()))

    def __getattr__(self, name: str) -> Any:   # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through CoalescedWrites."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescedWrites(transport, self.loop))  # type: ignore[arg-type]


class ForwardedHeaders:
    """uvicorn's ProxyHeadersMiddleware (trusting `trusted_hosts`), for requests that send
    X-Forwarded-Proto or X-Forwarded-For; the others pass as they came, as it lets them."""

    def __init__(self, app: ASGIApp, *, trusted_hosts: list[str] | str) -> None:
        self.app = app
        self.proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            for name, _ in scope["headers"]:
                if name in FORWARDED:
                    return await self.proxied(scope, receive, send)  # type: ignore[arg-type]
        await self.app(scope, receive, send)
