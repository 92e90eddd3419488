"""The shards' services backed by Postgres: device state and firmware bytes.

`pg_shard_services(dsn)` is what gridjobs hands the shards (through
`ShardConfig.services`, as a picklable partial). It runs inside each shard's
process and connects lazily, with small pools of their own.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from typing import Iterable
from uuid import UUID

import asyncpg

from actors.services import ServicesFactory, ShardServices
from gridjobs import background
from actors.tasks import DeviceState
from gridjobs.store.firmware_rows import STORAGE_CHUNK_BYTES, row_span
from gridjobs.store.parts import write_in_parts
from gridjobs.store.queries import Q

CACHE_ROWS = 64                   # at most 4 MiB of image rows per shard
FIRMWARE_POOL_SIZE = 4            # image rows, offsets read at a transfer's start, one offset batch
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 10.0
# Device state saves of more than SAVE_SPLIT_AT devices go as SAVE_PARTS statements at once
# (gridjobs.store.parts): 950 devices took 12-25 ms of one core.
SAVE_SPLIT_AT = 400
SAVE_PARTS = 2


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset round trip on release: these connections never change session state."""


class _LazyPool:
    def __init__(self, dsn: str, *, max_size: int) -> None:
        self._dsn, self._max_size = dsn, max_size
        self._pool: asyncpg.Pool | None = None

    async def get(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._max_size, reset=_keep_session,
                timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S,
            )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class PgDeviceState:
    """What a shard knows of its devices, saved so that a restarted shard rebuilds it."""

    def __init__(self, dsn: str) -> None:
        self._db = _LazyPool(dsn, max_size=SAVE_PARTS)

    async def load(self, device_ids: list[str]) -> dict[str, DeviceState]:
        if not device_ids:
            return {}
        rows = await (await self._db.get()).fetch(Q["load_device_state"], device_ids)
        return {r["device_id"]: DeviceState(r["holder"], r["holder_until"], r["setpoint_pct"],
                                            r["last_kw"]) for r in rows}

    async def save(self, items: Iterable[tuple[str, DeviceState]]) -> None:
        """Durable when this returns: one statement for a batch, or SAVE_PARTS at once for
        more than SAVE_SPLIT_AT devices (a shard hands a chunk of results on only after
        this, so it is on the way from the last device's answer to the caller)."""
        rows = [(d, s.holder, s.holder_until, s.setpoint_pct, s.last_kw) for d, s in items]
        if rows:
            pool = await self._db.get()
            await write_in_parts(rows, lambda part, _: pool.execute(
                Q["save_device_state"], *(list(column) for column in zip(*part))),
                split_above=SAVE_SPLIT_AT, parts=SAVE_PARTS)

    async def close(self) -> None:
        await self._db.close()


class OffsetWriter:
    """Transfer offsets written in batches, each still durable before its caller goes on.

    `save` parks the offset and waits; one writer task (owned here, started on
    first use, cancelled by `close`) writes everything parked since its last
    write in ONE statement, then wakes those callers. Every device of a shard
    that finished a chunk meanwhile shares that round's statement, instead of
    one upsert per chunk per device. A caller sends its next chunk only after
    its offset is durable, so a resumed transfer re-sends at most one chunk.
    The parked rows are bounded: one per transfer in progress (each waits).
    """

    def __init__(self, db: "_LazyPool") -> None:
        self._db = db
        self._parked: dict[tuple[str, str], tuple[str, int]] = {}
        self._batch: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.statements = 0      # how many batches were written (the benchmark reports it)

    async def save(self, operation_id: str, device_id: str, artifact_id: str, offset: int) -> None:
        if self._task is None or self._task.done():
            self._task = background.start(self._write_loop(), name="firmware-offset-writer",
                                          replacing=self._task)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
        batch = self._batch
        self._parked[(operation_id, device_id)] = (artifact_id, offset)
        self._wake.set()
        await asyncio.shield(batch)   # a cancelled caller leaves the batch to the others

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            rows, self._parked = self._parked, {}
            batch, self._batch = self._batch, None
            if not rows or batch is None:
                continue
            try:
                await self._write(rows)
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("firmware offsets closed before these were saved"))
                raise
            except Exception as exc:   # every caller of this batch gets the error
                _fail(batch, exc)
            else:
                batch.set_result(None)

    async def _write(self, rows: dict[tuple[str, str], tuple[str, int]]) -> None:
        ops, devices = zip(*rows)
        artifacts, offsets = zip(*rows.values())
        await (await self._db.get()).execute(Q["save_transfer_offsets"], list(ops), list(devices),
                                             list(artifacts), list(offsets))
        self.statements += 1

    async def close(self) -> None:
        task, self._task = self._task, None
        await background.stop(task)
        if self._batch is not None:
            _fail(self._batch, RuntimeError("firmware offsets closed before these were saved"))
        self._batch, self._parked = None, {}


def _fail(batch: asyncio.Future[None], exc: BaseException) -> None:
    if not batch.done():
        batch.set_exception(exc)
        batch.exception()   # retrieved: every caller of the batch may have been cancelled


class PgFirmwareSource:
    """Image bytes read a row at a time (a small, bounded cache), and transfer offsets.

    An image is never held in memory once per device.
    """

    def __init__(self, dsn: str, *, row_bytes: int = STORAGE_CHUNK_BYTES) -> None:
        self._db = _LazyPool(dsn, max_size=FIRMWARE_POOL_SIZE)
        self._offsets = OffsetWriter(self._db)
        self._row_bytes = row_bytes
        self._rows: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    async def read(self, artifact_id: str, offset: int, length: int) -> bytes:
        span = row_span(offset, length, row_bytes=self._row_bytes)
        rows = range(span.first, span.last + 1)
        missing = [i for i in rows if (artifact_id, i) not in self._rows]
        if missing:
            await self._load(artifact_id, missing[0], missing[-1])
        return span.cut(b"".join(self._row(artifact_id, i) for i in rows), length)

    def _row(self, artifact_id: str, idx: int) -> bytes:
        data = self._rows.get((artifact_id, idx))
        if data is None:
            raise RuntimeError(f"firmware {artifact_id} has no row {idx}")
        self._rows.move_to_end((artifact_id, idx))
        return data

    async def _load(self, artifact_id: str, first: int, last: int) -> None:
        rows = await (await self._db.get()).fetch(Q["artifact_chunks_between"],
                                                   UUID(artifact_id), first, last)
        for row in rows:
            self._rows[(artifact_id, row["idx"])] = bytes(row["data"])
            while len(self._rows) > CACHE_ROWS:
                self._rows.popitem(last=False)

    async def offset(self, operation_id: str, device_id: str, artifact_id: str) -> int:
        found = await (await self._db.get()).fetchval(Q["transfer_offset"], operation_id,
                                                       device_id, artifact_id)
        return int(found or 0)

    async def save_offset(self, operation_id: str, device_id: str, artifact_id: str,
                          offset: int) -> None:
        """Durable when this returns; written together with the other devices' (OffsetWriter)."""
        await self._offsets.save(operation_id, device_id, artifact_id, offset)

    async def close(self) -> None:
        await self._offsets.close()
        await self._db.close()


def _build(dsn: str) -> ShardServices:
    return ShardServices(device_state=PgDeviceState(dsn), firmware=PgFirmwareSource(dsn))


def pg_shard_services(dsn: str) -> ServicesFactory:
    """A picklable factory: Ray ships it to each shard, which calls it in its own process."""
    return functools.partial(_build, dsn)
