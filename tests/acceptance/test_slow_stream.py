"""A stream client that never reads is cut off, and the server's memory stays flat.

`gridjobs serve` runs as a subprocess (intake only: no Ray needed). A raw socket
asks for /v1/events and then reads nothing, while 200,000 events of about 600
bytes (some 120 MB) are written to the outbox. The server keeps at most
GRIDJOBS_STREAM_BUFFER events for the stream and stops sending to a client that
takes nothing for GRIDJOBS_STREAM_SEND_TIMEOUT_S, so its RSS grows by a bounded
amount, far below what holding the events for the client would cost.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import psutil
import pytest

from gridjobs.store.database import create_pool
from tests.acceptance.server import ServerProcess
from tests.support import wait_until

EVENTS, PER_BATCH, PAD = 200_000, 20_000, 500
GROWTH_BOUND = 60 * 2**20   # holding the events would take several times 120 MB


@pytest.fixture
def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log", extra_args=["--intake-only"],
                         GRIDJOBS_STREAM_BUFFER="200", GRIDJOBS_STREAM_SEND_TIMEOUT_S="3",
                         GRIDJOBS_EVENTS_POLL_S="0.2")
    yield proc
    proc.stop()


def open_stream(url: str, headers: dict[str, str]) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a client that takes little
    sock.connect((host, int(port)))
    request = (f"GET /v1/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
               f"Authorization: {headers['Authorization']}\r\n\r\n")
    sock.sendall(request.encode())
    return sock


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def drained_to_eof(sock: socket.socket) -> bool:
    """Read what the kernel holds; True if the server ended the stream (bounded).

    Ended means the last chunk of the chunked body arrived (the connection may then
    stay open for keep-alive until uvicorn's idle timeout) or the server closed it."""
    sock.settimeout(15)
    tail = b""
    for _ in range(100_000):
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return tail.endswith(b"\r\n0\r\n\r\n")
        if not data:
            return True
        tail = (tail + data)[-16:]
    return False


async def test_a_client_that_never_reads_is_cut_off_and_memory_stays_flat(server, db_url):
    await server.start()
    rss = psutil.Process(server.proc.pid).memory_info
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
        sock = open_stream(server.url, server.headers)
        try:
            await wait_until(lambda: _at_least(client, "gridjobs_event_streams_open", 1), timeout_s=30)
            before = rss().rss
            pool = await create_pool(db_url, min_size=1, max_size=1)
            try:
                for start in range(0, EVENTS, PER_BATCH):
                    await pool.execute(
                        "INSERT INTO events (type, data) SELECT 'operation.progress', "
                        "jsonb_build_object('n', g, 'pad', repeat('x', $2::int)) FROM generate_series($1::int, $1::int + $3::int - 1) g",
                        start, PAD, PER_BATCH)
            finally:
                await pool.close()
            await wait_until(lambda: _at_most(client, "gridjobs_event_streams_open", 0), timeout_s=120)
            after = rss().rss
            cut = await metric(client, 'gridjobs_event_streams_cut_total{reason="send_timeout"}') + \
                await metric(client, 'gridjobs_event_streams_cut_total{reason="overflow"}')
            assert (await client.get("/healthz")).status_code == 200
        finally:
            closed = await asyncio.to_thread(drained_to_eof, sock)
            sock.close()
    assert cut >= 1 and closed
    assert after - before < GROWTH_BOUND, f"RSS grew by {(after - before) / 2**20:.0f} MiB"


async def _at_least(client, name, value) -> bool:
    return await metric(client, name) >= value


async def _at_most(client, name, value) -> bool:
    return await metric(client, name) <= value
