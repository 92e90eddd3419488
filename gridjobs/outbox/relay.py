"""The webhook relay: outbox events → deliveries, one statement per batch.

The cursor row is locked with SKIP LOCKED, so across every gridjobs process one
relay step runs at a time and the others move on; the fan-out and the cursor
move commit together, so an event is fanned out once (the unique key on
(endpoint, event) makes even a repeat harmless).
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from gridjobs import background
from gridjobs.errors import GridjobsError
from gridjobs.metrics import OUTBOX_RELAYED
from gridjobs.outbox.waking import Backoff, Wake
from gridjobs.store.deliveries import Relayed, ensure_cursor, relay

RELAY_BATCH = 500
MAX_STEPS_PER_WAKE = 100    # then yield to the poll: a flood does not starve the loop

log = structlog.get_logger("gridjobs.outbox")


class Relay:
    def __init__(self, pool: asyncpg.Pool, *, poll_s: float, batch: int = RELAY_BATCH) -> None:
        self._pool, self._poll_s, self._batch = pool, poll_s, batch
        self._wake = Wake()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await ensure_cursor(self._pool)
        self._task = background.start(self._run(), name="gridjobs-outbox-relay")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            await background.stop(self._task)

    async def _run(self) -> None:
        backoff = Backoff(self._poll_s)
        while True:
            held_back = False
            try:
                held_back = (await self.drain()).held_back
            except GridjobsError as exc:
                log.warning("outbox_relay_failed", error=str(exc))
            await self._wake.nap(backoff.pause(held_back))

    async def drain(self) -> Relayed:
        """Relay until caught up (bounded); the last step, with the events passed in all."""
        passed = 0
        for _ in range(MAX_STEPS_PER_WAKE):
            step: Relayed = await relay(self._pool, limit=self._batch)
            passed += step.events
            OUTBOX_RELAYED.inc(step.events)
            if not step.held or step.events < self._batch:
                break
        return Relayed(step.held, passed, step.deliveries, step.held_back)
