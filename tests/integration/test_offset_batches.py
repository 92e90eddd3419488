"""Transfer offsets are written in batches (one statement per round of a shard's
chunks), and each is durable when `save_offset` returns."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gridjobs.store.operations import NewOperation, submit
from gridjobs.store.shard_services import PgFirmwareSource

DEVICES = 40
CHUNKS = 5


async def _operation(pool) -> str:
    async def no_scope(conn):
        return frozenset()
    submitted = await submit(pool, NewOperation("firmware_rollout", 0, {}), validate=no_scope)
    return str(submitted.operation.id)


async def _offsets(pool, op_id: str) -> dict[str, int]:
    rows = await pool.fetch('SELECT device_id, "offset" FROM firmware_transfers WHERE operation_id = $1',
                            uuid.UUID(op_id))
    return {r["device_id"]: r["offset"] for r in rows}


async def test_concurrent_transfers_share_statements_and_each_offset_is_durable_on_return(pool, db_url):
    op_id, artifact = await _operation(pool), str(uuid.uuid4())
    source = PgFirmwareSource(db_url)
    seen_after_save: list[bool] = []

    async def transfer(device: str) -> None:
        for chunk in range(1, CHUNKS + 1):
            await source.save_offset(op_id, device, artifact, chunk * 100)
            # durable on return: a reader on another connection sees it at once
            seen_after_save.append((await _offsets(pool, op_id)).get(device, 0) >= chunk * 100)

    try:
        await asyncio.gather(*(transfer(f"d{i}") for i in range(DEVICES)))
        assert all(seen_after_save) and len(seen_after_save) == DEVICES * CHUNKS
        assert await _offsets(pool, op_id) == {f"d{i}": CHUNKS * 100 for i in range(DEVICES)}
        # batched: far fewer statements than saves (one per save would be DEVICES * CHUNKS)
        assert source._offsets.statements <= DEVICES * CHUNKS // 4
        assert await source.offset(op_id, "d0", artifact) == CHUNKS * 100
    finally:
        await source.close()


async def test_offsets_only_move_forward_and_another_artifact_starts_over(pool, db_url):
    op_id, first, second = await _operation(pool), str(uuid.uuid4()), str(uuid.uuid4())
    source = PgFirmwareSource(db_url)
    try:
        await source.save_offset(op_id, "d", first, 500)
        await source.save_offset(op_id, "d", first, 200)       # a resent older chunk
        assert await source.offset(op_id, "d", first) == 500
        await source.save_offset(op_id, "d", second, 100)
        assert await source.offset(op_id, "d", second) == 100
        assert await source.offset(op_id, "d", first) == 0     # the row is the other artifact's now
    finally:
        await source.close()


async def test_a_failed_batch_fails_every_caller_and_the_next_batch_works(pool, db_url):
    op_id, artifact = await _operation(pool), str(uuid.uuid4())
    source = PgFirmwareSource(db_url)
    try:
        results = await asyncio.gather(
            source.save_offset(op_id, "good", artifact, 10),
            source.save_offset(str(uuid.uuid4()), "orphan", artifact, 10),   # no such operation
            return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results), results   # one statement: both fail
        await source.save_offset(op_id, "good", artifact, 20)
        assert await _offsets(pool, op_id) == {"good": 20}
    finally:
        await source.close()


async def test_close_fails_a_waiting_save_and_leaves_no_task(db_url):
    source = PgFirmwareSource(db_url)
    op_id = str(uuid.uuid4())
    waiting = asyncio.ensure_future(source.save_offset(op_id, "d", str(uuid.uuid4()), 1))
    await asyncio.sleep(0)
    await source.close()
    with pytest.raises(Exception):
        await waiting
