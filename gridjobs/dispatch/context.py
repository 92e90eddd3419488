"""What a running operation gets from the dispatcher, and what it returns."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import asyncpg

from actors.pool import ShardPool
from actors.tasks import DeviceResult, DeviceTask
from gridjobs.metrics import DEVICE_OUTCOMES
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Operation
from gridjobs.store.leases import Lease, OutcomeWrite


@dataclass(frozen=True)
class Finish:
    status: str
    result: dict[str, Any] | None
    error_code: str | None = None
    error_detail: str | None = None


@dataclass
class RunContext:
    operation: Operation
    lease: Lease
    pool: asyncpg.Pool
    shards: ShardPool
    cancel: asyncio.Event
    profiles: ProfileCatalog
    log: Any
    clock: Callable[[], float] = time.time
    checkpoint: dict[str, Any] = field(default_factory=dict)
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    keys: Any = None  # the master key, for operations that use the key store

    @property
    def op_id(self) -> str:
        return str(self.operation.id)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    async def execute(self, step: str, tasks: Sequence[DeviceTask]) -> list[DeviceResult]:
        if not tasks:
            return []
        return await self.shards.execute(self.op_id, step, tasks)

    async def record(self, writes: Sequence[OutcomeWrite]) -> None:
        await self.lease.record(writes)
        for w in writes:
            DEVICE_OUTCOMES.labels(w.state, w.code or "").inc()

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
