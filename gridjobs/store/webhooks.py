"""Webhook endpoints and their sealed secrets, as rows. Sealing happens above
(gridjobs.webhooks.secrets); rows here hold ciphertext only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence
from uuid import UUID

import asyncpg

from gridjobs.errors import NotFound
from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    principal: str
    url: str
    event_types: tuple[str, ...]
    feeders: tuple[str, ...] | None     # None: every feeder
    description: str | None
    status: str                         # enabled | disabled
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Endpoint":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["event_types"] = tuple(row["event_types"])
        values["feeders"] = None if row["feeders"] is None else tuple(row["feeders"])
        return cls(**values)


@dataclass(frozen=True)
class SealedSecret:
    endpoint_id: UUID
    version: int
    master_version: int
    master_fingerprint: str
    wrapped: bytes = field(repr=False)
    nonce: bytes = field(repr=False)


@dataclass(frozen=True)
class NewEndpoint:
    id: UUID
    principal: str
    url: str
    event_types: tuple[str, ...]
    feeders: tuple[str, ...] | None
    description: str | None


@translated
async def insert_endpoint(conn: asyncpg.Connection, new: NewEndpoint) -> Endpoint:
    row = await conn.fetchrow(Q["insert_webhook"], new.id, new.principal, new.url, list(new.event_types),
                              None if new.feeders is None else list(new.feeders), new.description)
    return Endpoint.from_row(row)


@translated
async def insert_secret(conn: asyncpg.Connection, endpoint_id: UUID, version: int, *, wrapped: bytes,
                        nonce: bytes, master_version: int, overlap_s: float) -> None:
    """The endpoint's new current secret; the previous one signs for `overlap_s` more."""
    await conn.execute(Q["insert_webhook_secret"], endpoint_id, version, wrapped, nonce,
                       master_version, overlap_s)


@translated
async def next_secret_version(conn: asyncpg.Connection, endpoint_id: UUID, principal: str) -> int:
    """Lock the principal's endpoint for a rotation; 404 if it is not theirs."""
    version = await conn.fetchval(Q["webhook_secret_version"], endpoint_id, principal)
    if version is None:
        raise NotFound(f"webhook {endpoint_id} does not exist")
    return version


@translated
async def count_endpoints(conn: asyncpg.Connection | asyncpg.Pool, principal: str) -> int:
    return await conn.fetchval(Q["count_webhooks"], principal)


@translated
async def list_endpoints(pool: asyncpg.Pool, principal: str) -> list[Endpoint]:
    return [Endpoint.from_row(r) for r in await pool.fetch(Q["list_webhooks"], principal)]


@translated
async def get_endpoint(conn: asyncpg.Connection | asyncpg.Pool, endpoint_id: UUID) -> Endpoint | None:
    row = await conn.fetchrow(Q["get_webhook"], endpoint_id)
    return Endpoint.from_row(row) if row else None


@translated
async def delete_endpoint(pool: asyncpg.Pool, endpoint_id: UUID, principal: str) -> bool:
    return await pool.fetchval(Q["delete_webhook"], endpoint_id, principal) is not None


@translated
async def signing_secrets(pool: asyncpg.Pool, endpoint_ids: Sequence[UUID]) -> dict[UUID, list[SealedSecret]]:
    """Each endpoint's secrets that sign now, newest first."""
    found: dict[UUID, list[SealedSecret]] = {e: [] for e in endpoint_ids}
    for r in await pool.fetch(Q["webhook_secrets"], list(endpoint_ids)):
        found[r["endpoint_id"]].append(SealedSecret(r["endpoint_id"], r["version"], r["master_version"],
                                                    r["master_fingerprint"], r["wrapped"], r["nonce"]))
    return found


@translated
async def disable_endpoint(conn: asyncpg.Connection | asyncpg.Pool, endpoint_id: UUID, reason: str) -> bool:
    """Disable (its waiting deliveries fail; a webhook.disabled event says so); False if it was already."""
    return bool(await conn.fetchval(Q["disable_webhook"], endpoint_id, reason))
