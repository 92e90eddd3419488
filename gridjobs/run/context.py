"""What a running operation gets from the dispatcher, and what it returns."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Sequence
from uuid import UUID

from structlog.typing import FilteringBoundLogger

from actors.tasks import DeviceRef, DeviceResult, DeviceTask
from gridjobs.metrics import DEVICE_OUTCOMES
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device, Operation, Outcome
from gridjobs.run.ports import DevicePort, FirmwarePort, KeyStorePort, LeasePort, ShardPort
from gridjobs.states import Status


@dataclass(frozen=True)
class Finish:
    status: Status
    result: dict[str, Any] | None
    error_code: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True)
class RunPorts:
    """The process-wide ports; a RunContext adds the lease of one claim."""

    devices: DevicePort
    shards: ShardPort
    firmware: FirmwarePort
    key_store: KeyStorePort | None   # None: no master key, so no authenticated commands
    profiles: ProfileCatalog


def device_ref(device: Device) -> DeviceRef:
    return DeviceRef(device.id, device.host, device.port, device.unit_id, device.profile, device.segment)


def device_task(device: Device, args: dict[str, Any]) -> DeviceTask:
    return DeviceTask(device_ref(device), args)


@dataclass
class RunContext:
    operation: Operation
    lease: LeasePort
    ports: RunPorts
    cancel: asyncio.Event
    log: FilteringBoundLogger
    clock: Callable[[], float] = time.time
    checkpoint: dict[str, Any] = field(default_factory=dict)
    resume: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def operation_id(self) -> UUID:
        return self.operation.id

    @property
    def devices(self) -> DevicePort:
        return self.ports.devices

    @property
    def firmware(self) -> FirmwarePort:
        return self.ports.firmware

    @property
    def key_store(self) -> KeyStorePort | None:
        return self.ports.key_store

    @property
    def profiles(self) -> ProfileCatalog:
        return self.ports.profiles

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    async def execute(self, step: str, tasks: Sequence[DeviceTask]) -> list[DeviceResult]:
        if not tasks:
            return []
        return await self.ports.shards.execute(str(self.operation_id), step, tasks)

    async def execute_stream(self, step: str, tasks: Sequence[DeviceTask]) -> AsyncIterator[list[DeviceResult]]:
        """`execute`, its results in chunks as the devices finish."""
        if not tasks:
            return
        async with aclosing(self.ports.shards.execute_stream(str(self.operation_id), step, tasks)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        await self.lease.record(outcomes)
        # One increment per (state, code), not per outcome: a label lookup costs about
        # 1 us, and a large shed records 20,000 outcomes.
        for (state, code), n in Counter((o.state, o.code or "") for o in outcomes).items():
            DEVICE_OUTCOMES.labels(state, code).inc(n)

    async def save_checkpoint(self, **changes: Any) -> None:
        self.checkpoint.update(changes)
        await self.lease.save_checkpoint(self.checkpoint)

    async def pause_until_resumed(self) -> bool:
        """Pause (status `paused`) until resumed; False if cancelled meanwhile."""
        self.resume.clear()  # a resume already requested in the row comes back by heartbeat
        await self.lease.pause()
        waiters = {asyncio.ensure_future(self.resume.wait()), asyncio.ensure_future(self.cancel.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if self.cancelled:
            return False
        await self.lease.unpause()
        return True

    async def wait_cancel(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`; return early (True) if cancellation arrives."""
        try:
            async with asyncio.timeout(max(0.0, timeout_s)):
                await self.cancel.wait()
        except TimeoutError:
            pass
        return self.cancel.is_set()
