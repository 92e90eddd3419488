"""Operations as the API sees them: submit (idempotent), read, list, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable
from uuid import UUID, uuid4

import asyncpg

from gridjobs.errors import (
    Conflict, IdempotencyInFlight, IdempotencyMismatch, NotFound,
)
from gridjobs.records import Operation, Outcome
from gridjobs.store.database import translated
from gridjobs.store.queries import Q

IDEMPOTENCY_TTL_S = 24 * 3600.0

Validator = Callable[[asyncpg.Connection], Awaitable[None]]


@dataclass(frozen=True)
class NewOperation:
    kind: str
    priority: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Submitted:
    operation: Operation
    replayed: bool


@translated
async def submit(
    pool: asyncpg.Pool,
    new: NewOperation,
    *,
    validate: Validator,
    idempotency_key: str | None = None,
    request_hash: str = "",
    key_ttl_s: float = IDEMPOTENCY_TTL_S,
) -> Submitted:
    """Insert the operation (and its idempotency key) in one transaction.

    `validate` runs inside the transaction (scope checks against the device
    registry), so a request that fails it writes nothing.
    """
    async with pool.acquire() as conn:
        async with conn.transaction():
            if idempotency_key is not None:
                replay = await _check_key(conn, idempotency_key, request_hash)
                if replay is not None:
                    return Submitted(await _get(conn, replay), replayed=True)
            await validate(conn)
            args = (uuid4(), new.kind, new.priority, new.params)
            if idempotency_key is None:
                row = await conn.fetchrow(Q["insert_operation"], *args)
            else:
                row = await conn.fetchrow(Q["insert_operation_with_key"], *args,
                                          idempotency_key, request_hash, key_ttl_s)
            if not row["key_saved"]:  # another request saved this key first: roll back
                raise _in_flight()
    return Submitted(Operation.from_row(row), replayed=False)


def _in_flight() -> IdempotencyInFlight:
    return IdempotencyInFlight(
        "a request with this Idempotency-Key is still being processed; retry shortly"
    )


async def _check_key(conn: asyncpg.Connection, key: str, request_hash: str) -> UUID | None:
    row = await conn.fetchrow(Q["lock_idempotency_key"], key)
    if not row["locked"]:
        raise _in_flight()
    if row["operation_id"] is None:
        return None
    if row["request_hash"] != request_hash:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request body"
        )
    return row["operation_id"]


async def _get(conn: asyncpg.Connection | asyncpg.Pool, operation_id: UUID) -> Operation:
    row = await conn.fetchrow(Q["get_operation"], operation_id)
    if row is None:
        raise NotFound(f"operation {operation_id} does not exist")
    return Operation.from_row(row)


@translated
async def accepted_before(pool: asyncpg.Pool, key: str, request_hash: str) -> Operation | None:
    """The operation this key and body were accepted as, if they were (no lock taken)."""
    row = await pool.fetchrow(Q["find_idempotency_key"], key)
    if row is None or row["request_hash"] != request_hash:
        return None
    return await _get(pool, row["operation_id"])


@translated
async def get_operation(pool: asyncpg.Pool, operation_id: UUID) -> Operation:
    return await _get(pool, operation_id)


@translated
async def list_operations(
    pool: asyncpg.Pool,
    *,
    kind: str | None,
    status: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Operation]:
    created, operation_id = before if before else (None, None)
    rows = await pool.fetch(Q["list_operations"], kind, status, created, operation_id, limit)
    return [Operation.from_row(r) for r in rows]


@translated
async def cancel(pool: asyncpg.Pool, operation_id: UUID) -> Operation:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval(Q["cancel_operation"], operation_id)
        if status is None:
            current = await _get(conn, operation_id)  # raises NotFound
            raise Conflict(f"operation {operation_id} is already {current.status}; it cannot be cancelled")
        await conn.execute(Q["notify_cancel"], str(operation_id))
        return await _get(conn, operation_id)


@translated
async def resume(pool: asyncpg.Pool, operation_id: UUID) -> Operation:
    """Let a paused (manual-approval) operation go on."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q["resume_operation"], operation_id) is None:
            current = await _get(conn, operation_id)  # raises NotFound
            raise Conflict(f"operation {operation_id} is {current.status}; only a paused operation resumes")
        await conn.execute(Q["notify_resume"], str(operation_id))
        return await _get(conn, operation_id)


@translated
async def list_outcomes(
    pool: asyncpg.Pool, operation_id: UUID, *, after_seq: int | None, limit: int
) -> list[Outcome]:
    await get_operation(pool, operation_id)
    rows = await pool.fetch(Q["list_outcomes"], operation_id, after_seq, limit)
    return [Outcome.from_row(r) for r in rows]


@translated
async def purge_expired_keys(pool: asyncpg.Pool) -> int:
    status = await pool.execute(Q["purge_idempotency_keys"])
    return int(status.split()[-1])
