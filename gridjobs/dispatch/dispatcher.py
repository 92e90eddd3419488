"""The dispatcher: claim queued operations, hold their leases, run them.

Claims use FOR UPDATE SKIP LOCKED (priority, then age). Each running
operation is an owned task with a heartbeat task beside it; a lost lease
cancels the run, and shutdown cancels everything and releases the leases so
another process can take over at once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Mapping

import asyncpg
import structlog

from gridjobs.config import LEASE_S, MAX_RUNNING, POLL_S
from gridjobs.dispatch.running import Runner, run_claimed
from gridjobs.errors import GridjobsError
from gridjobs.records import Operation
from gridjobs.run.context import RunContext, RunPorts
from gridjobs.store import leases
from gridjobs.store.listener import Listener
from gridjobs.store.operations import purge_expired_keys

PURGE_EVERY_S = 3600.0

log = structlog.get_logger("gridjobs.dispatch")


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class DispatcherConfig:
    lease_s: float = LEASE_S
    poll_s: float = POLL_S
    max_running: int = MAX_RUNNING


class Dispatcher:
    def __init__(
        self, *, pool: asyncpg.Pool, dsn: str, ports: RunPorts, runners: Mapping[str, Runner],
        config: DispatcherConfig = DispatcherConfig(), owner: str | None = None,
    ) -> None:
        """`runners` maps each operation kind to its runner; the runtime passes them in."""
        self.pool, self.ports, self.runners, self.config = pool, ports, runners, config
        self.owner = owner or default_owner()
        self._wake = asyncio.Event()
        self._listener = Listener(dsn, on_queued=self._wake.set, on_cancel=self._cancel_requested,
                                  on_resume=self._resume_requested)
        self._running: dict[str, tuple[asyncio.Task, RunContext]] = {}
        self._loop_task: asyncio.Task | None = None

    async def start(self) -> None:
        await self._listen()
        self._loop_task = asyncio.create_task(self._loop(), name="gridjobs-dispatch-loop")

    async def stop(self) -> None:
        tasks = [t for t, _ in self._running.values()]
        if self._loop_task is not None:
            tasks.append(self._loop_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None
        await self._listener.stop()

    async def _listen(self) -> None:
        try:
            await self._listener.start()
        except GridjobsError as exc:
            log.warning("listen_unavailable", error=str(exc), fallback="polling")

    @property
    def running(self) -> int:
        return len(self._running)

    def _cancel_requested(self, operation_id: str) -> None:
        if (entry := self._running.get(operation_id)) is not None:
            entry[1].cancel.set()

    def _resume_requested(self, operation_id: str) -> None:
        if (entry := self._running.get(operation_id)) is not None:
            entry[1].resume.set()

    async def _loop(self) -> None:
        last_purge = time.monotonic()
        while True:
            await self._claim_available()
            if time.monotonic() - last_purge >= PURGE_EVERY_S:
                await self._purge()
                last_purge = time.monotonic()
            if not self._listener.alive:
                await self._listen()  # a dropped LISTEN connection comes back
            self._wake.clear()
            try:
                async with asyncio.timeout(self.config.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _claim_available(self) -> int:
        claimed = 0
        while len(self._running) < self.config.max_running:
            try:
                op = await leases.claim_next(self.pool, owner=self.owner, lease_s=self.config.lease_s)
            except GridjobsError as exc:
                log.warning("claim_failed", error=str(exc))
                return claimed
            if op is None:
                return claimed
            self._start(op)
            claimed += 1
        return claimed

    def _start(self, op: Operation) -> None:
        cancel = asyncio.Event()
        if op.cancel_requested:
            cancel.set()
        lease = leases.Lease(self.pool, op, self.config.lease_s)
        ctx = RunContext(operation=op, lease=lease, ports=self.ports, cancel=cancel,
                         log=log.bind(operation_id=str(op.id)), checkpoint=dict(op.checkpoint))
        task = asyncio.create_task(run_claimed(ctx, self.runners), name=f"gridjobs-op-{op.id}")
        self._running[str(op.id)] = (task, ctx)
        task.add_done_callback(lambda _t, key=str(op.id): self._finished(key))

    def _finished(self, operation_id: str) -> None:
        self._running.pop(operation_id, None)
        self._wake.set()

    async def _purge(self) -> None:
        try:
            purged = await purge_expired_keys(self.pool)
            log.info("idempotency_keys_purged", count=purged)
        except GridjobsError as exc:
            log.warning("purge_failed", error=str(exc))
