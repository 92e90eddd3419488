"""What a shard reads of firmware images, and where it records transfer offsets.

Images live in Postgres in fixed-size rows; a shard reads only the rows a
chunk needs and keeps a small, bounded cache of them, so an image is never
held in memory once per device.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import asyncpg

from actors.named_sql import load_named_queries

Q = load_named_queries(Path(__file__).parent / "sql" / "firmware.sql")
STORAGE_CHUNK_BYTES = 64 * 1024   # the row size gridjobs stores images in
CACHE_ROWS = 64                   # at most 4 MiB of image rows per shard
POOL_MAX_SIZE = 4                 # offsets are saved after every chunk of every transfer
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 10.0


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset round trip on release: these connections never change session state."""


class FirmwareStore:
    def __init__(self, dsn: str | None, *, row_bytes: int = STORAGE_CHUNK_BYTES) -> None:
        self._dsn = dsn
        self._row_bytes = row_bytes
        self._pool: asyncpg.Pool | None = None
        self._rows: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    async def _db(self) -> asyncpg.Pool:
        if self._dsn is None:
            raise RuntimeError("firmware needs the shard to have a database (ShardConfig.dsn)")
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=POOL_MAX_SIZE, reset=_keep_session,
                timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S,
            )
        return self._pool

    async def read(self, artifact_id: str, offset: int, length: int) -> bytes:
        first, last = offset // self._row_bytes, (offset + length - 1) // self._row_bytes
        missing = [i for i in range(first, last + 1) if (artifact_id, i) not in self._rows]
        if missing:
            await self._load(artifact_id, missing[0], missing[-1])
        joined = b"".join(self._row(artifact_id, i) for i in range(first, last + 1))
        start = offset - first * self._row_bytes
        return joined[start:start + length]

    def _row(self, artifact_id: str, idx: int) -> bytes:
        data = self._rows.get((artifact_id, idx))
        if data is None:
            raise RuntimeError(f"firmware {artifact_id} has no row {idx}")
        self._rows.move_to_end((artifact_id, idx))
        return data

    async def _load(self, artifact_id: str, first: int, last: int) -> None:
        rows = await (await self._db()).fetch(Q["artifact_chunks_between"], artifact_id, first, last)
        for row in rows:
            self._rows[(artifact_id, row["idx"])] = bytes(row["data"])
            while len(self._rows) > CACHE_ROWS:
                self._rows.popitem(last=False)

    async def offset(self, op_id: str, device_id: str, artifact_id: str) -> int:
        found = await (await self._db()).fetchval(Q["transfer_offset"], op_id, device_id, artifact_id)
        return int(found or 0)

    async def save_offset(self, op_id: str, device_id: str, artifact_id: str, offset: int) -> None:
        await (await self._db()).execute(Q["save_transfer_offset"], op_id, device_id, artifact_id, offset)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
