"""Webhook deliveries: the relay that fans events out to endpoints, the claims
that workers take (a lease, fenced by a claim number) and what they record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence
from uuid import UUID

import asyncpg

from gridjobs.errors import Conflict, NotFound
from gridjobs.store.database import translated
from gridjobs.store.queries import Q

WEBHOOK_CURSOR = "webhooks"


@dataclass(frozen=True)
class Relayed:
    held: bool        # False: another process holds the cursor now
    events: int
    deliveries: int
    held_back: bool = False   # committed events wait above the horizon


@dataclass(frozen=True)
class Claimed:
    """One delivery this process now sends: the event, its endpoint, the claim."""

    id: int
    endpoint_id: UUID
    event_id: int
    claim: int
    attempts: int         # including this one
    schedule_from: int    # attempts made before the retry schedule (re)started
    url: str
    failing_since: datetime | None
    event_type: str
    data: dict[str, Any]
    event_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Claimed":
        return cls(row["id"], row["endpoint_id"], row["event_id"], row["claim"], row["attempts"],
                   row["schedule_from"], row["url"], row["failing_since"], row["type"], row["data"],
                   row["event_at"])


@dataclass(frozen=True)
class AttemptRecord:
    state: str                     # pending (retry) | delivered | failed
    next_attempt_at: datetime | None
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response: str | None
    at: datetime                   # when the answer came (or the attempt gave up)


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    event_type: str
    operation_id: UUID | None
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    attempt_log: tuple[dict[str, Any], ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Delivery":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        return cls(**{**values, "attempt_log": tuple(row["attempt_log"])})


@translated
async def ensure_cursor(pool: asyncpg.Pool, name: str = WEBHOOK_CURSOR) -> None:
    await pool.execute(Q["ensure_cursor"], name)


@translated
async def relay(pool: asyncpg.Pool, *, limit: int, name: str = WEBHOOK_CURSOR) -> Relayed:
    row = await pool.fetchrow(Q["relay_events"], name, limit)
    return Relayed(bool(row["held"]), row["events"], row["deliveries"], row["held_back"])


@translated
async def rescue(pool: asyncpg.Pool) -> int:
    status = await pool.execute(Q["rescue_deliveries"])
    return int(status.split()[-1])


@translated
async def claim(pool: asyncpg.Pool, *, lease_s: float, limit: int, per_endpoint: int,
                sending: Mapping[UUID, int]) -> list[Claimed]:
    """Claim due deliveries, fairly across endpoints, in order within each operation."""
    rows = await pool.fetch(Q["claim_deliveries"], lease_s, limit, per_endpoint,
                            list(sending), list(sending.values()))
    return [Claimed.from_row(r) for r in rows]


@translated
async def record(conn: asyncpg.Connection | asyncpg.Pool, claimed: Claimed, attempt: AttemptRecord) -> bool:
    """Settle a claim; False when the claim is no longer held (another process took it over)."""
    return bool(await conn.fetchval(Q["record_attempt"], claimed.id, claimed.claim, attempt.state,
                                    attempt.next_attempt_at, attempt.status_code, attempt.latency_ms,
                                    attempt.error, attempt.response, attempt.at))


@translated
async def release(pool: asyncpg.Pool, claimed: Claimed) -> None:
    await pool.execute(Q["release_delivery"], claimed.id, claimed.claim)


@translated
async def list_deliveries(pool: asyncpg.Pool, endpoint_id: UUID, *, before_id: int | None,
                          limit: int) -> list[Delivery]:
    rows = await pool.fetch(Q["list_deliveries"], endpoint_id, limit, before_id)
    return [Delivery.from_row(r) for r in rows]


@translated
async def retry(pool: asyncpg.Pool, endpoint_id: UUID, delivery_id: int) -> None:
    """Send again now (and retry on the schedule); 404 unknown, 409 disabled or being sent."""
    row = await pool.fetchrow(Q["retry_delivery"], endpoint_id, delivery_id)
    if row["retried"]:
        return
    found = await pool.fetchrow(Q["get_delivery"], endpoint_id, delivery_id)
    if found is None:
        raise NotFound(f"delivery {delivery_id} of webhook {endpoint_id} does not exist")
    if found["endpoint_status"] != "enabled":
        raise Conflict(f"webhook {endpoint_id} is disabled; create a new endpoint")
    raise Conflict(f"delivery {delivery_id} is being sent now; retry when it is done")


@translated
async def undelivered_ages(pool: asyncpg.Pool) -> dict[UUID, float]:
    return {r["endpoint_id"]: r["age_s"] for r in await pool.fetch(Q["undelivered_ages"])}


@translated
async def purge_deliveries(pool: asyncpg.Pool, *, older_than_s: float, limit: int) -> int:
    status = await pool.execute(Q["purge_deliveries"], older_than_s, limit)
    return int(status.split()[-1])


def sending_counts(endpoint_ids: Sequence[UUID]) -> dict[UUID, int]:
    counts: dict[UUID, int] = {}
    for endpoint_id in endpoint_ids:
        counts[endpoint_id] = counts.get(endpoint_id, 0) + 1
    return counts
