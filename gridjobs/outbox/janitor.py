"""Keeping the outbox in bounds: the undelivered-age gauge every few seconds, and
the purge of delivered events and delivery logs past retention, bounded per run."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import structlog

from gridjobs import background
from gridjobs.errors import GridjobsError
from gridjobs.metrics import WEBHOOK_OLDEST_UNDELIVERED
from gridjobs.store.deliveries import purge_deliveries, undelivered_ages
from gridjobs.store.events import purge_events

GAUGE_EVERY_S = 10.0
PURGE_EVERY_S = 3600.0
PURGE_BATCH = 10_000        # rows per table per run

log = structlog.get_logger("gridjobs.outbox")


async def purge(pool: asyncpg.Pool, *, retention_s: float, limit: int = PURGE_BATCH) -> tuple[int, int]:
    """One bounded purge: (deliveries, events) removed."""
    removed = await purge_deliveries(pool, older_than_s=retention_s, limit=limit)
    return removed, await purge_events(pool, older_than_s=retention_s, limit=limit)


async def refresh_gauge(pool: asyncpg.Pool) -> None:
    ages = await undelivered_ages(pool)
    WEBHOOK_OLDEST_UNDELIVERED.clear()
    for endpoint_id, age_s in ages.items():
        WEBHOOK_OLDEST_UNDELIVERED.labels(str(endpoint_id)).set(age_s)


class Janitor:
    def __init__(self, pool: asyncpg.Pool, *, retention_s: float) -> None:
        self._pool, self._retention_s = pool, retention_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = background.start(self._run(), name="gridjobs-outbox-janitor")

    async def stop(self) -> None:
        if self._task is not None:
            await background.stop(self._task)

    async def _run(self) -> None:
        last_purge = float("-inf")
        while True:
            try:
                await refresh_gauge(self._pool)
                if time.monotonic() - last_purge >= PURGE_EVERY_S:
                    last_purge = time.monotonic()
                    removed = await purge(self._pool, retention_s=self._retention_s)
                    log.info("outbox_purged", deliveries=removed[0], events=removed[1])
            except GridjobsError as exc:
                log.warning("outbox_janitor_failed", error=str(exc))
            await asyncio.sleep(GAUGE_EVERY_S)
