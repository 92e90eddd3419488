"""Appending request audit entries in batches, off the request path.

Entries wait in a bounded queue; one owned task writes them in one statement
every FLUSH_S (or sooner when BATCH entries wait). A full queue makes the
request wait (never drops an entry). `close()` writes what is left. A batch the
database refuses is written entry by entry, so that only a refused entry is lost
(and logged), never the writer.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from gridjobs import background
from gridjobs.errors import InvalidData, StoreError
from gridjobs.store.request_audit import RequestEntry, append

QUEUE_MAX = 10_000
BATCH = 500
FLUSH_S = 0.2
RETRY_S = 2.0

log = structlog.get_logger("gridjobs.access")


class AuditWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: asyncio.Queue[RequestEntry] = asyncio.Queue(maxsize=QUEUE_MAX)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = background.start(self._run(), name="gridjobs-request-audit")

    async def add(self, entry: RequestEntry) -> None:
        await self._queue.put(entry)

    async def close(self) -> None:
        if self._task is not None:
            await background.stop(self._task)
            self._task = None
        await self._write(self._drain())

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            try:
                async with asyncio.timeout(FLUSH_S):
                    while self._queue.qsize() < BATCH:
                        await asyncio.sleep(FLUSH_S / 4)
            except TimeoutError:
                pass
            if not await self._write([first, *self._drain()]):
                await asyncio.sleep(RETRY_S)  # the database is down: do not spin

    def _drain(self) -> list[RequestEntry]:
        entries = []
        while not self._queue.empty() and len(entries) < QUEUE_MAX:
            entries.append(self._queue.get_nowait())
        return entries

    async def _write(self, entries: list[RequestEntry]) -> bool:
        try:
            await append(self._pool, entries)
            return True
        except InvalidData:   # one entry the database refuses must not take its batch along
            return await self._write_each(entries)
        except StoreError as exc:
            return self._defer(entries, exc)

    def _defer(self, entries: list[RequestEntry], exc: StoreError) -> bool:
        """The database is down: keep them for the next flush (False)."""
        log.warning("request_audit_deferred", entries=len(entries), error=str(exc))
        kept = 0
        for entry in entries:
            if self._queue.full():
                break
            self._queue.put_nowait(entry)
            kept += 1
        if kept < len(entries):
            log.error("request_audit_lost", entries=len(entries) - kept)
        return False

    async def _write_each(self, entries: list[RequestEntry]) -> bool:
        """One statement per entry; an entry refused on its own is logged (what was asked and
        answered, not its text) and dropped: it cannot be stored, and retrying would stop the
        writer, and with it every request once the queue is full."""
        for index, entry in enumerate(entries):
            try:
                await append(self._pool, [entry])
            except InvalidData:
                log.error("request_audit_refused", method=entry.method, route=entry.route,
                          status=entry.status)
            except StoreError as exc:
                return self._defer(entries[index:], exc)
        return True
