"""One simulated gateway: a pymodbus TCP server in front of many unit ids.

pymodbus serves registers from ``SimDevice`` objects; each one's ``action``
hook asks the device model, so reads are computed on demand and writes go
through the model. A request handler subclass applies injected faults before
pymodbus sees the request: it stays silent, answers with an exception, or
closes the connection. A device may do the same on its own (an RTU is silent
while it reboots). After applying a write, a device may also ask for its answer
to be lost (``DeviceBase.take_reply``): the connection is closed instead, or the
answer goes out late. A latency fault answers after a delay, in its own task,
so only requests queued behind it on the same connection wait (as they would
behind a slow real device).

The action hook runs to completion without yielding to the event loop, so the
answer pymodbus sends next is the one to the request the device just applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from .device_base import DeviceBase, Request
from .errors import RejectedWrite, SimulatorError
from .faults import FaultKind
from .registers import RegisterMap

SILENT_FAULTS = frozenset({FaultKind.TIMEOUT, FaultKind.OFFLINE})
ANSWERING_FAULTS = frozenset({FaultKind.IMPLAUSIBLE})


class DeviceRegisters:
    """The ``SimDevice.action`` of one device."""

    def __init__(self, device: DeviceBase, register_map: RegisterMap) -> None:
        self._device = device
        self._map = register_map

    async def action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if set_values is None:
            offset = address - start_address
            registers[offset : offset + count] = self._map.read(self._device, address=address, count=count)
            return None
        words = [int(word) for word in set_values]
        try:
            values = self._map.decode_write(self._device, address=address, words=words)
            self._device.receive_write(address=address, words=words, values=values)
        except RejectedWrite as exc:
            return exc.code
        return None


def sim_device(*, unit_id: int, device: DeviceBase, register_map: RegisterMap) -> SimDevice:
    """The device's points, and read-only zero registers in the gaps between them (so reads may span gaps)."""
    simdata = [
        SimData(address, count=count, values=0, datatype=DataType.REGISTERS, readonly=readonly)
        for address, count, readonly in _blocks(register_map)
    ]
    return SimDevice(id=unit_id, simdata=simdata, action=DeviceRegisters(device, register_map).action)


def _blocks(register_map: RegisterMap) -> list[tuple[int, int, bool]]:
    """(address, count, read-only) of every point, and of every gap between two points."""
    blocks: list[tuple[int, int, bool]] = []
    for point in register_map.points:
        if blocks and (end := blocks[-1][0] + blocks[-1][1]) < point.address:
            blocks.append((end, point.address - end, True))
        blocks.append((point.address, point.register_count, not point.writable))
    return blocks


def _request(pdu: ModbusPDU) -> Request:
    return Request(function_code=pdu.function_code, address=pdu.address, count=pdu.count)


class FaultingRequestHandler(ServerRequestHandler):
    """Routes a request to its unit, unless an injected fault intercepts it."""

    async def handle_request(self) -> None:
        pdu = self.last_pdu
        if pdu is None:
            return
        device = self.server.sim_units.get(pdu.dev_id)
        if device is None:
            self._refuse(pdu, ExcCodes.GATEWAY_NO_RESPONSE)
            return
        fault = device.admit(_request(pdu))
        if fault is None or fault.kind in ANSWERING_FAULTS:
            await super().handle_request()
        elif fault.kind is FaultKind.LATENCY:
            await self._answer_later(pdu, self.last_addr, delay_s=device.latency_s(fault))
        elif fault.kind is FaultKind.EXCEPTION:
            self._refuse(pdu, fault.code)
        elif fault.kind is FaultKind.DROP:
            self.close()
        # SILENT_FAULTS (timeout, offline): say nothing; the client times out.

    async def _answer_later(self, pdu: ModbusPDU, addr: tuple | None, *, delay_s: float) -> None:
        """Answer ``pdu`` after ``delay_s``; the server cancels the wait when it stops."""
        task = asyncio.current_task()
        self.server.delayed.add(task)
        try:
            await asyncio.sleep(delay_s)
            response = await pdu.datastore_update(self.server.context, pdu.dev_id)
        finally:
            self.server.delayed.discard(task)
        response.transaction_id, response.dev_id = pdu.transaction_id, pdu.dev_id
        if self.transport:  # the client may have gone while we waited
            self.server_send(response, addr)

    def server_send(self, pdu: ModbusPDU | None, addr: tuple | None) -> None:
        """Send an answer, unless its device (having applied the request) wants it late, or not at all."""
        device = None if pdu is None else self.server.sim_units.get(pdu.dev_id)
        reply = None if device is None else device.take_reply()
        if reply is None:
            super().server_send(pdu, addr)
        elif reply.kind is FaultKind.LATE_ANSWER:
            late = self._send_late(pdu, addr, delay_s=reply.delay_s)
            self.server.track(asyncio.get_running_loop().create_task(late))
        else:  # drop_after_apply, drop_after_auth_command
            self.close()

    async def _send_late(self, pdu: ModbusPDU, addr: tuple | None, *, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if self.transport:  # the client may have gone while we waited
            super().server_send(pdu, addr)

    def _refuse(self, pdu: ModbusPDU, code: int) -> None:
        response = ExceptionResponse(
            pdu.function_code, code, device_id=pdu.dev_id, transaction=pdu.transaction_id
        )
        self.server_send(response, self.last_addr)


class GatewayServer(ModbusTcpServer):
    """A Modbus/TCP listener serving the given units. Create it inside the running loop."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        units: Mapping[int, DeviceBase],
        register_maps: Mapping[str, RegisterMap],
    ) -> None:
        self.sim_units = dict(units)
        devices = [
            sim_device(unit_id=unit_id, device=device, register_map=register_maps[device.profile.name])
            for unit_id, device in self.sim_units.items()
        ]
        super().__init__(devices, address=(host, port))
        self._listener: asyncio.Server | None = None
        self.delayed: set[asyncio.Task] = set()  # latency and late-answer faults waiting to answer

    def track(self, task: asyncio.Task) -> None:
        """Keep a delayed answer until it is sent; ``stop`` cancels it."""
        self.delayed.add(task)
        task.add_done_callback(self.delayed.discard)

    def callback_new_connection(self) -> FaultingRequestHandler:
        return FaultingRequestHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)

    async def start(self) -> int:
        """Listen; return the bound port."""
        host, port = self.comm_params.source_address
        try:
            await self.serve_forever(background=True)
        except RuntimeError as exc:
            raise SimulatorError(f"cannot listen on {host}:{port}: {exc}") from exc
        self._listener = self.transport
        return self._listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection. Idempotent."""
        listener, self._listener = self._listener, None
        delayed, self.delayed = list(self.delayed), set()
        for task in delayed:
            task.cancel()
        if delayed:
            await asyncio.wait(delayed)
        await self.shutdown()
        if listener is not None:
            await listener.wait_closed()
