"""Group commit of submissions: those that arrive while a batch is being written go
into the next one, one statement and one commit (one WAL flush) for all of them.

`GroupCommit.insert` parks a submission and waits for its own answer row. One
writer task (owned here, started by `start` or on first use, cancelled by `close`) takes
everything parked (after LINGER_S, if fewer than LINGER_BELOW are), at most MAX_BATCH,
each idempotency key at most once per batch (a second request with the same key waits
for the next batch and then finds the key: a replay), and writes it with
`submit_operations`, the batch as one JSON text. If that statement fails, or the batch
cannot be JSON text, its submissions are written one by one
(`submit_operation_with_key`), each getting its own answer or error, so one
bad row never fails its neighbours. The parked submissions are bounded by the
API's in-flight limit (each request waits for its own). Should the writer itself
fail (a bug), every parked submission is failed at once and the next one starts
a new writer.

A batch sends no NOTIFY in its own transaction (submit_operations says why). After it
commits, an `Announcer` (owned here too) wakes the listeners of every process with one
short statement, at most one per ANNOUNCE_EVERY_S: a burst of batches is one wake-up,
a lone submission's goes at once. Should an announcement be lost (the process dies
between the commit and it), the dispatchers' and relays' polls find the work anyway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import structlog

from gridjobs import background
from gridjobs.store.database import COMMAND_TIMEOUT_S, DRIVER_ERRORS
from gridjobs.store.queries import Q

MAX_BATCH = 256
# A batch smaller than this waits LINGER_S first, for the submissions other connections
# are sending meanwhile (PostgreSQL's commit_delay, on our side). With several API
# processes each writer sees only its share of the connections, and batches of one or
# two cost PostgreSQL about twice the CPU per submission. wrk, 32 connections, 4
# processes on 2 cores: 2,586, 2,577 and 2,635 req/s against 2,261, 2,410 and 2,151
# without, in pairs; 1 process: 3,505, 2,782, 2,628 against 2,858, 3,337, 2,566 (no
# difference). A lone submission waits a millisecond more for its answer.
LINGER_BELOW = 8
LINGER_S = 0.001
# Announcements of committed batches: at most one per this long (a dispatcher claims
# a new operation this much later at worst; the relays coalesce their wakes anyway).
ANNOUNCE_EVERY_S = 0.05
# A submission's values, as submit_operation_with_key takes them ($1..$10), by name.
FIELDS = ("id", "kind", "priority", "params", "feeders", "submitted_by", "callback_webhook_id",
          "key", "request_hash", "ttl_s")


log = structlog.get_logger("gridjobs.intake")


@dataclass
class _Parked:
    args: tuple[Any, ...]      # as submit_operation_with_key takes them ($1..$10)
    answer: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> str | None:
        return self.args[7]


class GroupCommit:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._parked: list[_Parked] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0           # statements written (tests, benchmarks)
        self.largest = 0           # the largest batch so far
        self.announcer = Announcer(pool)

    def start(self) -> None:
        """Start the writer task (the runtime does, so it exists before the first request)."""
        if self._task is None or self._task.done():
            self._task = background.start(self._write_loop(), name="gridjobs-group-commit",
                                          replacing=self._task)
        self.announcer.start()

    async def insert(self, args: tuple[Any, ...]) -> asyncpg.Record:
        """`args` as submit_operation_with_key takes them; its answer row: locked, key_saved
        and, when saved, the new operation's status and created_at."""
        if self._closed:
            raise RuntimeError("the intake is closed")
        self.start()
        parked = _Parked(args)
        self._parked.append(parked)
        self._wake.set()
        return await parked.answer   # a cancelled caller's row is still written (it stays parked)

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        await background.stop(task)
        await self.announcer.close()
        for parked in self._parked:
            _fail(parked, RuntimeError("the intake closed before this submission was written"))
        self._parked = []

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._parked:
                if len(self._parked) < LINGER_BELOW:
                    await asyncio.sleep(LINGER_S)   # let the batch fill (parked ones stay parked if cancelled)
                batch = self._take()
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    for parked in batch:
                        _fail(parked, RuntimeError("the intake closed before this submission was written"))
                    raise
                except Exception as exc:   # a bug: answer every waiting caller now (nothing else would)
                    waiting, self._parked = [*batch, *self._parked], []
                    for parked in waiting:
                        _fail(parked, RuntimeError(f"the intake's writer failed ({type(exc).__name__})"))
                    raise   # the writer ends (logged, and named by /readyz); the next submission starts another

    def _take(self) -> list[_Parked]:
        batch: list[_Parked] = []
        keys: set[str] = set()
        rest: list[_Parked] = []
        for parked in self._parked:
            if len(batch) >= MAX_BATCH or (parked.key is not None and parked.key in keys):
                rest.append(parked)
                continue
            batch.append(parked)
            if parked.key is not None:
                keys.add(parked.key)
        self._parked = rest
        return batch

    async def _write(self, batch: list[_Parked]) -> None:
        try:   # one text parameter: PostgreSQL parses it faster than asyncpg encodes ten arrays
            document = orjson.dumps([dict(zip(FIELDS, p.args)) for p in batch]).decode()
        except orjson.JSONEncodeError:   # text JSON cannot carry (a lone surrogate, say)
            await self._one_by_one(batch)
            return
        try:
            rows = await self._pool.fetch(Q["submit_operations"], document)
        except DRIVER_ERRORS:
            await self._one_by_one(batch)   # each gets its own answer, or its own error
            return
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        self.announcer.due()
        by_id = {row["request_id"]: row for row in rows}
        for parked in batch:
            row = by_id.get(parked.args[0])
            if row is None:
                _fail(parked, RuntimeError("the batch statement gave no answer for a submission"))
            elif not parked.answer.done():
                parked.answer.set_result(row)

    async def _one_by_one(self, batch: list[_Parked]) -> None:
        for parked in batch:
            try:
                if parked.key is None:
                    row = await self._pool.fetchrow(Q["insert_operation"], *parked.args[:7])
                else:
                    row = await self._pool.fetchrow(Q["submit_operation_with_key"], *parked.args)
            except Exception as exc:   # the caller's own error, translated where it is awaited
                _fail(parked, exc)
            else:
                if not parked.answer.done():
                    parked.answer.set_result(row)


class Announcer:
    """After committed batches: one `announce_submitted` at a time, at most one per
    `every_s`; the batches committed meanwhile share the next. A failed one is logged
    and not retried: the next batch announces again, and the polls are the backstop."""

    def __init__(self, pool: asyncpg.Pool, *, every_s: float = ANNOUNCE_EVERY_S) -> None:
        self._pool, self._every_s = pool, every_s
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0              # announcements made (tests)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = background.start(self._run(), name="gridjobs-intake-announcer",
                                          replacing=self._task)

    def due(self) -> None:
        self._due.set()

    async def close(self) -> None:
        task, self._task = self._task, None
        await background.stop(task)

    async def _run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT_S):   # the pool's wait for a connection too
                    await self._pool.execute(Q["announce_submitted"])
                self.sent += 1
            except (TimeoutError, *DRIVER_ERRORS) as exc:
                log.warning("intake_announce_failed", error=type(exc).__name__)
            await asyncio.sleep(self._every_s)


def _fail(parked: _Parked, exc: BaseException) -> None:
    if not parked.answer.done():
        parked.answer.set_exception(exc)
        parked.answer.exception()   # retrieved: its caller may have been cancelled
