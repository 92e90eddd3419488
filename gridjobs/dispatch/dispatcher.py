"""The dispatcher: claim queued operations, hold their leases, run them.

Claims use FOR UPDATE SKIP LOCKED (priority, then age). Each running
operation is an owned task with a heartbeat task beside it; a lost lease
cancels the run, and shutdown cancels everything and releases the leases so
another process can take over at once.

Runs are keyed by claim (operation id, fence), not by operation: a claim that
was lost and taken again by this process has two runs for a while, and the
stale one ending must not drop the current one. Cancel and resume
notifications name only the operation, so they reach every claim of it.
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

from gridjobs import background
from gridjobs.config import LEASE_S, MAX_RUNNING, POLL_S
from gridjobs.dispatch.running import Runner, run_claimed
from gridjobs.errors import GridjobsError
from gridjobs.records import Operation
from gridjobs.run.context import RunContext, RunPorts
from gridjobs.store import leases
from gridjobs.store.listener import CANCEL_CHANNEL, QUEUED_CHANNEL, RESUME_CHANNEL, Listener
from gridjobs.store.operations import purge_expired_keys

PURGE_EVERY_S = 3600.0
CLAIM_GRACE_S = 2.0   # on stop, a claim in flight may land (its run is then handed back)

log = structlog.get_logger("gridjobs.dispatch")

Claim = tuple[uuid.UUID, int]   # (operation id, fence): one claim of one operation


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
        self._listener = Listener(dsn, channels={
            QUEUED_CHANNEL: lambda _payload: self._wake.set(),
            CANCEL_CHANNEL: self._cancel_requested,
            RESUME_CHANNEL: self._resume_requested,
        }, on_connect=self._wake.set)
        self._running: dict[Claim, tuple[asyncio.Task, RunContext]] = {}
        self._loop_task: asyncio.Task | None = None
        self._stopping: asyncio.Future | None = None

    async def start(self) -> None:
        await self._listen()
        self._loop_task = background.start(self._loop(), name="gridjobs-dispatch-loop")

    def begin_stop(self) -> None:
        """Start stopping now: claim nothing more, cancel every run (each releases its
        lease at once), stop listening. Call it on the loop's thread; stop() awaits it."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())

    async def stop(self) -> None:
        """Stop (see begin_stop) and wait until done; calling it again just waits."""
        self.begin_stop()
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        self._wake.set()   # the loop sees self._stopping and returns
        if self._loop_task is not None:
            await asyncio.wait({self._loop_task}, timeout=CLAIM_GRACE_S)
            await background.stop(self._loop_task)
        runs = [task for task, _ in self._running.values()]
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await self._listener.stop()

    async def _listen(self) -> None:
        try:
            await self._listener.start()
        except GridjobsError as exc:
            log.warning("listen_unavailable", error=str(exc), fallback="polling")

    @property
    def running(self) -> int:
        return len(self._running)

    def _contexts(self, operation_id: str) -> list[RunContext]:
        """Every run of the operation this process holds (normally one)."""
        return [ctx for claim, (_, ctx) in self._running.items() if str(claim[0]) == operation_id]

    def _cancel_requested(self, operation_id: str) -> None:
        for ctx in self._contexts(operation_id):
            ctx.cancel.set()

    def _resume_requested(self, operation_id: str) -> None:
        for ctx in self._contexts(operation_id):
            ctx.resume.set()

    async def _loop(self) -> None:
        last_purge = time.monotonic()
        while self._stopping is None:
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
        while len(self._running) < self.config.max_running and self._stopping is None:
            try:
                op = await leases.claim_next(self.pool, owner=self.owner, lease_s=self.config.lease_s,
                                             running=[ctx.operation_id for _, ctx in self._running.values()])
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
        claim = (op.id, op.fence)
        self._running[claim] = (task, ctx)
        task.add_done_callback(lambda _t: self._finished(claim))

    def _finished(self, claim: Claim) -> None:
        self._running.pop(claim, None)
        self._wake.set()

    async def _purge(self) -> None:
        try:
            purged = await purge_expired_keys(self.pool)
            log.info("idempotency_keys_purged", count=purged)
        except GridjobsError as exc:
            log.warning("purge_failed", error=str(exc))
