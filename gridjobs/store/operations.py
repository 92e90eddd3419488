"""Operations as the API sees them: submit (idempotent), read, list, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping
from uuid import UUID, uuid4

import asyncpg

from gridjobs.errors import (
    Conflict, Forbidden, IdempotencyInFlight, IdempotencyMismatch, NotFound, ValidationFailed,
)
from gridjobs.records import Operation, Outcome
from gridjobs.states import Status
from gridjobs.store.database import translated
from gridjobs.store.group_commit import GroupCommit
from gridjobs.store.queries import Q

IDEMPOTENCY_TTL_S = 24 * 3600.0

# Runs before the submission's statement; returns the feeders the operation reaches.
# It reads through what it is given: a connection, or the pool (single reads).
Validator = Callable[[asyncpg.Connection | asyncpg.Pool], Awaitable[frozenset[str]]]
# Runs in a cancel's or resume's transaction, with the locked row; raises to refuse.
Authorizer = Callable[["Locked"], None]


@dataclass(frozen=True)
class NewOperation:
    kind: str
    priority: int
    params: dict[str, Any]
    submitted_by: str | None = None
    callback_webhook_id: UUID | None = None   # a webhook that gets every event of this operation


@dataclass(frozen=True)
class Locked:
    """An operation as a cancel or resume sees it before acting."""

    id: UUID
    kind: str
    status: str
    feeders: frozenset[str]
    submitted_by: str | None
    approval: str | None


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
    batcher: GroupCommit | None = None,
) -> Submitted:
    """Validate, then insert the operation (and its idempotency key) in ONE statement;
    with a `batcher`, in the next batch of submissions (group commit), still one statement.

    `validate` runs first (scope checks against the device registry, or a cache
    of it), so a request that fails it writes nothing. Its failure is answered by
    a replay when the key was accepted before with this body (a retry's scope
    may no longer hold), by a mismatch when with another body. With a `batcher`,
    `validate` is given the pool, not a connection of it: its checks are single
    reads (none at all when a cache answers), and the batch's writer needs the
    connections.
    """
    if batcher is not None:
        args = await _validated(pool, new, validate, idempotency_key, request_hash)
        if isinstance(args, Submitted):
            return args
        row = await batcher.insert((*args, idempotency_key, request_hash, key_ttl_s))
        if row["key_saved"]:
            return Submitted(_inserted(new, args, row), replayed=False)
    else:
        async with pool.acquire() as conn:
            args = await _validated(conn, new, validate, idempotency_key, request_hash)
            if isinstance(args, Submitted):
                return args
            if idempotency_key is None:
                row = await conn.fetchrow(Q["insert_operation"], *args)
                return Submitted(Operation.from_row(row), replayed=False)
            row = await conn.fetchrow(Q["submit_operation_with_key"], *args,
                                      idempotency_key, request_hash, key_ttl_s)
    if not row.get("locked", True):   # another request holds this key right now (no key: no lock)
        raise _in_flight()
    if row["key_saved"]:
        return Submitted(Operation.from_row(row), replayed=False)
    replay = await _accepted_key(pool, idempotency_key, request_hash)
    if replay is None:         # the key expired or was purged since: the client retries
        raise _in_flight()
    return Submitted(await _get(pool, replay), replayed=True)


def _inserted(new: NewOperation, args: tuple[Any, ...], row: Mapping[str, Any]) -> Operation:
    """The operation a group commit just inserted: the values `_validated` gave it, with
    the status and creation time the database gave it (all a batch's answer carries)."""
    return Operation(id=args[0], kind=new.kind, status=Status(row["status"]), priority=new.priority,
                     params=new.params, result=None, error_code=None, error_detail=None,
                     created_at=row["created_at"], started_at=None, finished_at=None,
                     feeders=tuple(args[4]), submitted_by=new.submitted_by,
                     callback_webhook_id=new.callback_webhook_id)


async def _validated(conn: asyncpg.Connection | asyncpg.Pool, new: NewOperation, validate: Validator,
                     idempotency_key: str | None, request_hash: str) -> tuple[Any, ...] | Submitted:
    """The new row's values ($1..$7), or the replay of a key whose retry no longer validates."""
    try:
        feeders = await validate(conn)
    except (ValidationFailed, Forbidden):
        if idempotency_key is not None:
            replay = await _accepted_key(conn, idempotency_key, request_hash)
            if replay is not None:
                return Submitted(await _get(conn, replay), replayed=True)
        raise
    return (uuid4(), new.kind, new.priority, new.params, sorted(feeders), new.submitted_by,
            new.callback_webhook_id)


async def _accepted_key(conn: asyncpg.Connection | asyncpg.Pool, key: str, request_hash: str) -> UUID | None:
    """The operation this key was accepted as (None: not accepted); another body is a mismatch."""
    row = await conn.fetchrow(Q["find_idempotency_key"], key)
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request body"
        )
    return row["operation_id"]


def _in_flight() -> IdempotencyInFlight:
    return IdempotencyInFlight(
        "a request with this Idempotency-Key is still being processed; retry shortly"
    )


async def _get(conn: asyncpg.Connection | asyncpg.Pool, operation_id: UUID, *,
               query: str = Q["get_operation"]) -> Operation:
    row = await conn.fetchrow(query, operation_id)
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
async def get_operation_summary(pool: asyncpg.Pool, operation_id: UUID) -> Operation:
    """The operation with its checkpoint cut to the phase fields (view operation_summaries):
    what the API shows, without decoding every device's survey reading on every poll."""
    return await _get(pool, operation_id, query=Q["get_operation_summary"])


@translated
async def list_operations(
    pool: asyncpg.Pool,
    *,
    kind: str | None,
    status: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
    area: frozenset[str] | None = None,
) -> list[Operation]:
    """Newest first; with an `area`, only operations whose feeders all lie in it."""
    created, operation_id = before if before else (None, None)
    rows = await pool.fetch(Q["list_operations"], kind, status, created, operation_id, limit,
                            None if area is None else sorted(area))
    return [Operation.from_row(r) for r in rows]


async def _locked(conn: asyncpg.Connection, operation_id: UUID, authorize: Authorizer) -> Locked:
    row = await conn.fetchrow(Q["lock_operation"], operation_id)
    if row is None:
        raise NotFound(f"operation {operation_id} does not exist")
    locked = Locked(row["id"], row["kind"], row["status"], frozenset(row["feeders"]),
                    row["submitted_by"], row["approval"])
    authorize(locked)
    return locked


@translated
async def cancel(pool: asyncpg.Pool, operation_id: UUID, *, by: str | None,
                 authorize: Authorizer) -> Operation:
    async with pool.acquire() as conn, conn.transaction():
        locked = await _locked(conn, operation_id, authorize)
        if await conn.fetchval(Q["cancel_operation"], operation_id, by) is None:
            raise Conflict(f"operation {operation_id} is already {locked.status}; it cannot be cancelled")
        await conn.execute(Q["notify_cancel"], str(operation_id))
        return await _get(conn, operation_id)


@translated
async def resume(pool: asyncpg.Pool, operation_id: UUID, *, by: str | None,
                 authorize: Authorizer) -> Operation:
    """Let a paused (manual-approval) operation go on."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await _locked(conn, operation_id, authorize)
        if await conn.fetchval(Q["resume_operation"], operation_id, by) is None:
            raise Conflict(f"operation {operation_id} is {locked.status}; only a paused operation resumes")
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
