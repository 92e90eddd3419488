"""The session's own timeouts are the only bounds on a request: pymodbus is given none
(adapters.session.LIBRARY_TIMEOUT). Real sockets on loopback, no mocks.

Each wait below is guarded by GUARD_S, many times the session's timeout: the
guard failing means a request was left unbounded. Nothing is asserted on time.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from contextlib import closing

import pytest

from adapters import DeviceFault, FaultCode, SessionPool
from adapters.session import LIBRARY_TIMEOUT

TIMEOUT_S = 0.2
GUARD_S = 10.0
FILL_ATTEMPTS = 64   # connections tried to fill a listener's accept queue (bounded)


async def _silent_gateway() -> tuple[asyncio.Server, int, list[bytes]]:
    """Accepts connections and reads requests, never answers."""
    heard: list[bytes] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(260):
                heard.append(data)
        finally:
            writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], heard


async def test_a_gateway_that_never_answers_is_a_device_timeout_bounded_by_the_session():
    assert LIBRARY_TIMEOUT is None
    server, port, heard = await _silent_gateway()
    sessions = SessionPool(timeout_s=TIMEOUT_S, connect_timeout_s=TIMEOUT_S)
    session = sessions.session(host="127.0.0.1", port=port)
    try:
        for _ in range(2):   # and again on the same connection: the first left nothing behind
            with pytest.raises(DeviceFault) as fault:
                async with asyncio.timeout(GUARD_S):
                    await session.read_registers(unit_id=1, address=0, count=2)
            assert fault.value.code == FaultCode.DEVICE_TIMEOUT
            assert f"no answer within {TIMEOUT_S} s" in fault.value.detail
        assert len(b"".join(heard)) == 2 * 12   # both requests reached the gateway (MBAP + FC3)
        assert session.stats.counts().requests == 2
    finally:
        await sessions.close()
        server.close()
        await server.wait_closed()


def _full_listener() -> tuple[socket.socket, list[socket.socket]]:
    """A listener that never accepts, its queue filled: a further connect gets no answer."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers: list[socket.socket] = []
    for _ in range(FILL_ATTEMPTS):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.setblocking(False)
        if probe.connect_ex(listener.getsockname()) not in (0, errno.EINPROGRESS):
            probe.close()
            break
        fillers.append(probe)
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as check:
            check.settimeout(0.05)
            try:
                check.connect(listener.getsockname())
            except TimeoutError:
                return listener, fillers   # this one got no answer: the queue is full
            except OSError:   # refused (tcp_abort_on_overflow): not the case under test
                break
    for probe in fillers:
        probe.close()
    listener.close()
    pytest.skip("could not fill a listener's accept queue on this kernel")


async def test_a_connect_that_never_completes_fails_within_the_connect_timeout():
    listener, fillers = _full_listener()
    sessions = SessionPool(timeout_s=TIMEOUT_S, connect_timeout_s=TIMEOUT_S,
                           backoff_initial_s=0.01, backoff_max_s=0.01)
    session = sessions.session(host="127.0.0.1", port=listener.getsockname()[1])
    try:
        with pytest.raises(DeviceFault) as fault:
            async with asyncio.timeout(GUARD_S):
                await session.read_registers(unit_id=1, address=0, count=1)
        assert fault.value.code == FaultCode.CONNECTION_FAILED
        assert "cannot connect" in fault.value.detail and not fault.value.sent
    finally:
        await sessions.close()
        for probe in fillers:
            probe.close()
        listener.close()
