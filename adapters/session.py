"""Gateway sessions: one Modbus/TCP connection per gateway, shared by every unit behind it.

This is the only module that talks to pymodbus. Every pymodbus exception and
every error response becomes a ``DeviceFault`` here.

pymodbus 3.16 runs one transaction at a time per client (``execute`` holds an
``asyncio.Lock``), so a session sends its requests one after the other. The
session takes its own lock (the wire) before starting the clock, so
``timeout_s`` measures the wait for the device's answer and not the wait behind
other units' requests. That lock is the whole admission: with one request on
the wire at a time, a semaphore of ``max_inflight`` in front of it would bound
nothing more.

The wire serves requests in turn, except a ``follow_up``: a read that checks a
write its caller has just made (a read-back). It goes before the requests of
units whose turn has not come yet. A batch of curtailments then verifies each
unit right after commanding it, and units finish one after the other, instead
of every write going out before the first read-back. Only read-backs follow up,
each after a write that waited its turn, so the others are never starved.

The session's timeouts are the only ones: pymodbus is given none
(``LIBRARY_TIMEOUT``), because its own per-request timer (``asyncio.wait_for``)
cost every request a future, a timer and an extra turn of the event loop between
the answer and the caller, on top of ours.

The request path is lean (it runs once per register read or write, tens of
thousands of times in a large shed): the request runs in the caller's own task
under ``asyncio.timeout``; a dropped connection cancels that task through a
callback on the link's ``lost`` future instead of a second task and
``asyncio.wait`` per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from .errors import DeviceFault, FaultCode, SessionClosedError
from .layouts import LayoutCache
from .limits import check_read, check_unit_id, check_write
from .priority_lock import PriorityLock
from .request_stats import RequestStats
from .settings import SessionSettings

Call = Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]]
# pymodbus passes its `timeout` to asyncio.wait_for, around each request's answer and
# around connect; None waits without a timer there. Every such wait of ours is
# already bounded: the answer by `timeout_s` (`_exchange`), the connect by
# `connect_timeout_s` (`_open`). pymodbus is pinned (pyproject.toml), and
# tests/integration/test_session_timeouts.py checks that both bounds still hold.
LIBRARY_TIMEOUT = None
# The wire's priorities (a PriorityLock: lower first, then in turn).
FOLLOW_UP = 0
IN_TURN = 1


class _Link:
    """One TCP connection, and a future that resolves when the gateway drops it."""

    def __init__(self, *, host: str, port: int, settings: SessionSettings) -> None:
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=LIBRARY_TIMEOUT,   # type: ignore[arg-type]   (see LIBRARY_TIMEOUT)
            retries=0,
            reconnect_delay=0,
            trace_connect=self._on_connect_change,
        )

    def _on_connect_change(self, connected: bool) -> None:
        if not connected:
            self._mark_lost()

    def _mark_lost(self) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    @property
    def alive(self) -> bool:
        return self.client.connected and not self.lost.done()

    def close(self) -> None:
        self.client.close()
        self._mark_lost()


class GatewaySession:
    """Requests to the units behind one gateway. Safe to share between asyncio tasks."""

    def __init__(self, *, host: str, port: int, settings: SessionSettings) -> None:
        self.host = host
        self.port = port
        self._settings = settings
        self._wire = PriorityLock()   # one request at a time: see the module's docstring
        self._link: _Link | None = None
        self._connect_failures = 0
        self._retry_at = 0.0
        self._closed = False
        self.stats = RequestStats()  # latency, timeouts and faults of this gateway's requests
        # What SunSpec discovery found about the units behind this gateway.
        self.layouts = LayoutCache()

    async def read_registers(self, *, unit_id: int, address: int, count: int,
                             follow_up: bool = False) -> tuple[int, ...]:
        """Read ``count`` holding registers (FC3) from ``unit_id``; with ``follow_up``, as the
        read-back of a write the caller has just made (served first, see the module)."""
        check_unit_id(unit_id)
        check_read(address=address, count=count)
        what = f"read {count} registers at {address}"

        async def call(client: AsyncModbusTcpClient) -> ModbusPDU:
            return await client.read_holding_registers(address, count=count, device_id=unit_id)

        response = await self._request(unit_id=unit_id, what=what, call=call,
                                       priority=FOLLOW_UP if follow_up else IN_TURN)
        registers = tuple(getattr(response, "registers", ()))
        if len(registers) != count:
            raise self._fault(FaultCode.BAD_RESPONSE, unit_id, f"{what}: got {len(registers)} registers")
        return registers

    async def write_registers(self, *, unit_id: int, address: int, values: Sequence[int]) -> None:
        """Write ``values`` to consecutive holding registers in one request (FC16)."""
        words = tuple(values)
        check_unit_id(unit_id)
        check_write(address=address, values=words)
        what = f"write {len(words)} registers at {address}"

        async def call(client: AsyncModbusTcpClient) -> ModbusPDU:
            return await client.write_registers(address, list(words), device_id=unit_id)

        response = await self._request(unit_id=unit_id, what=what, call=call, priority=IN_TURN)
        echoed = (getattr(response, "address", None), getattr(response, "count", None))
        if echoed != (address, len(words)):
            raise self._fault(FaultCode.BAD_RESPONSE, unit_id, f"{what}: answer echoes {echoed}")

    async def close(self) -> None:
        """Close the connection. A request still waiting for an answer fails with connection_failed."""
        self._closed = True
        self._drop_link()

    async def _request(self, *, unit_id: int, what: str, call: Call, priority: int) -> ModbusPDU:
        async with self._wire.hold(priority):
            if self._closed:
                raise SessionClosedError(f"session {self.host}:{self.port} is closed")
            response, seconds = await self._counted(unit_id=unit_id, what=what, call=call)
        if response.isError():
            self.stats.answered(seconds, fault=FaultCode.MODBUS_EXCEPTION)
            fault = self._fault(FaultCode.MODBUS_EXCEPTION, unit_id, f"{what}: {_exception_name(response)}")
            fault.exception_code = response.exception_code
            raise fault
        self.stats.answered(seconds)
        return response

    async def _counted(self, *, unit_id: int, what: str, call: Call) -> tuple[ModbusPDU, float]:
        """Connect if need be, then exchange: the answer and its latency; a fault is counted."""
        try:
            link = await self._connected(unit_id)
            started = time.perf_counter()
            response = await self._exchange(link, unit_id=unit_id, what=what, call=call)
        except DeviceFault as fault:
            self.stats.failed(fault.code)
            raise
        return response, time.perf_counter() - started

    async def _connected(self, unit_id: int) -> _Link:
        if self._link is not None and self._link.alive:
            return self._link
        self._drop_link()
        if (wait := self._retry_at - time.monotonic()) > 0:
            raise self._fault(
                FaultCode.CONNECTION_FAILED,
                unit_id,
                f"backing off for {wait:.2f} s after {self._connect_failures} failed connects",
                sent=False,
            )
        link = _Link(host=self.host, port=self.port, settings=self._settings)
        if not await self._open(link):
            link.close()
            raise self._connect_failed(unit_id)
        self._connect_failures = 0
        self._link = link
        return link

    async def _open(self, link: _Link) -> bool:
        try:
            async with asyncio.timeout(self._settings.connect_timeout_s):
                return await link.client.connect()
        except (TimeoutError, OSError, ModbusException):
            return False

    def _connect_failed(self, unit_id: int) -> DeviceFault:
        self._connect_failures += 1
        delay = self._settings.backoff.delay_after(failures=self._connect_failures)
        self._retry_at = time.monotonic() + delay
        return self._fault(
            FaultCode.CONNECTION_FAILED,
            unit_id,
            f"cannot connect (failure {self._connect_failures}); next attempt in {delay:.2f} s",
            sent=False,
        )

    async def _exchange(self, link: _Link, *, unit_id: int, what: str, call: Call) -> ModbusPDU:
        if link.lost.done():
            self._drop_link()
            raise self._fault(FaultCode.CONNECTION_FAILED, unit_id, f"{what}: connection dropped",
                              sent=False)
        watch = _LostWatch(link.lost)
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                response = await call(link.client)
        except TimeoutError as exc:
            if not watch.fired:
                reason = f"{what}: no answer within {self._settings.timeout_s} s"
                raise self._fault(FaultCode.DEVICE_TIMEOUT, unit_id, reason) from exc
            watch.uncancel()   # the link went too: reported as the drop below
            response = None
        except asyncio.CancelledError:
            if not watch.fired or not watch.uncancel():
                raise   # cancelled by whoever awaits this request
            response = None
        except (ConnectionException, OSError) as exc:
            self._drop_link()
            raise self._fault(FaultCode.CONNECTION_FAILED, unit_id, f"{what}: {exc}") from exc
        except ModbusIOException as exc:
            self._drop_link()  # the byte stream can no longer be trusted
            raise self._fault(FaultCode.BAD_RESPONSE, unit_id, f"{what}: {exc}") from exc
        except ModbusException as exc:
            raise self._fault(FaultCode.BAD_RESPONSE, unit_id, f"{what}: {exc}") from exc
        finally:
            watch.close()
        if watch.fired:
            self._drop_link()
            raise self._fault(FaultCode.CONNECTION_FAILED, unit_id, f"{what}: connection dropped")
        return response

    def _drop_link(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _fault(self, code: FaultCode, unit_id: int, reason: str, *, sent: bool = True) -> DeviceFault:
        return DeviceFault(code, f"{self.host}:{self.port} unit {unit_id}: {reason}", sent=sent)


class _LostWatch:
    """While open: the link's loss cancels the current task (once), and says so.

    A callback of a done future runs later, from the loop; `close` makes a late
    one do nothing, so it never cancels what the task does after the request.
    """

    def __init__(self, lost: asyncio.Future[None]) -> None:
        self._lost = lost
        self._task = asyncio.current_task()
        self._open = True
        self.fired = False
        lost.add_done_callback(self._on_lost)

    def _on_lost(self, _: asyncio.Future[None]) -> None:
        if self._open and not self.fired and self._task is not None:
            self.fired = True
            self._task.cancel()

    def uncancel(self) -> bool:
        """Take back our own cancellation; False when someone else's is pending too."""
        assert self._task is not None
        return self._task.uncancel() == 0

    def close(self) -> None:
        self._open = False
        self._lost.remove_done_callback(self._on_lost)


def _exception_name(response: ModbusPDU) -> str:
    code = response.exception_code
    try:
        name = ExcCodes(code).name
    except ValueError:
        name = "UNKNOWN"
    return f"device answered with exception code {code} ({name}) to function {response.function_code & 0x7F}"
