"""CoalescedWrites: what one turn of the loop writes leaves in one write, in order; a
close sends what is pending first, an abort drops it. A real uvicorn server on
loopback answers through it: pipelined requests, each answer whole and in order.
ForwardedHeaders: the scheme and client uvicorn's proxy-header middleware gives,
for requests with and without such headers, from trusted and untrusted peers."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gridjobs.config import Settings
from gridjobs.http_server import CoalescedWrites, CoalescingHttpProtocol, ForwardedHeaders
from gridjobs.serve import build_server


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 9)}.get(name, default)


async def _turn() -> None:
    await asyncio.sleep(0)


async def test_writes_of_one_turn_leave_in_one_write_in_order():
    real = FakeTransport()
    writes = CoalescedWrites(real, asyncio.get_running_loop())
    writes.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    writes.write(b"{}")
    assert real.writes == [] and writes.get_write_buffer_size() == 27
    await _turn()
    assert real.writes == [b"HTTP/1.1 202 Accepted\r\n\r\n{}"]
    writes.write(b"a")
    await _turn()
    writes.write(b"b")
    await _turn()
    assert real.writes[1:] == [b"a", b"b"]


async def test_close_sends_what_is_pending_first_and_abort_drops_it():
    real = FakeTransport()
    writes = CoalescedWrites(real, asyncio.get_running_loop())
    writes.write(b"last words")
    writes.close()
    assert real.writes == [b"last words"] and real.events == ["write", "close"]
    await _turn()   # the scheduled flush finds nothing more
    assert real.writes == [b"last words"]

    real = FakeTransport()
    writes = CoalescedWrites(real, asyncio.get_running_loop())
    writes.write(b"never")
    writes.abort()
    await _turn()
    assert real.writes == [] and real.events == ["abort"]


async def test_a_closed_connection_takes_nothing_and_the_rest_is_the_transports():
    real = FakeTransport()
    writes = CoalescedWrites(real, asyncio.get_running_loop())
    writes.write(b"late")
    real.closing = True   # the peer went away within the turn
    await _turn()
    assert real.writes == []
    assert writes.get_extra_info("peername") == ("127.0.0.1", 9) and writes.is_closing()


async def test_a_server_answers_pipelined_requests_whole_and_in_order():
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.query_params["n"] * 3)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(Starlette(routes=[Route("/", echo)]), log_config=None, access_log=False,
                            lifespan="off", http=CoalescingHttpProtocol)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"".join(f"GET /?n={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for n in range(5)))
            await writer.drain()
            bodies = []
            for _ in range(5):
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                bodies.append(await reader.readexactly(length))
            writer.close()
            assert bodies == [str(n).encode() * 3 for n in range(5)]
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        sock.close()


def _scope(client: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "scheme": "http", "client": (client, 5000), "headers": headers,
            "method": "GET", "path": "/"}


@pytest.mark.parametrize(("client", "headers", "scheme", "peer"), [
    ("127.0.0.1", [], "http", ("127.0.0.1", 5000)),
    ("127.0.0.1", [(b"x-forwarded-proto", b"https")], "https", ("127.0.0.1", 5000)),
    ("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.7")], "http", ("203.0.113.7", 0)),
    ("10.0.0.5", [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"203.0.113.7")],
     "http", ("10.0.0.5", 5000)),
    ("10.0.0.5", [(b"host", b"x")], "http", ("10.0.0.5", 5000)),
])
async def test_forwarded_headers_are_uvicorns_reading(client, headers, scheme, peer):
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["scheme"], tuple(scope["client"])))

    await ForwardedHeaders(app, trusted_hosts="127.0.0.1,::1")(_scope(client, headers), None, None)
    assert seen == [(scheme, peer)]


def test_the_server_is_built_with_both(tmp_path):
    server = build_server(Settings(database_url="postgresql://unused", data_dir=tmp_path), execute=False)
    assert server.config.http is CoalescingHttpProtocol and not server.config.proxy_headers
    assert isinstance(server.config.app, ForwardedHeaders)
