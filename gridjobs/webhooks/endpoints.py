"""Managing webhook endpoints: each belongs to the principal that made it, and
reaches only operations within its feeders, which lie within its owner's area.

Create and rotate return the secret (`whsec_…`) once; the store keeps it sealed
under the master key. After a rotation the previous secret signs beside the new
one for SECRET_OVERLAP_S (24 h), as Standard Webhooks allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID, uuid4

import asyncpg

from gridjobs.device_keys.keyring import Keyring
from gridjobs.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from gridjobs.store import webhooks as rows
from gridjobs.store.webhooks import Endpoint, NewEndpoint
from gridjobs.webhooks.secrets import Secret, seal_secret
from gridjobs.webhooks.urls import check_url

SECRET_OVERLAP_S = 24 * 3600.0
MAX_ENDPOINTS_PER_PRINCIPAL = 100


@dataclass(frozen=True)
class Owner:
    """Who manages an endpoint: a principal's name and area (None: every feeder)."""

    name: str
    area: frozenset[str] | None


@dataclass(frozen=True)
class Request:
    url: str
    event_types: tuple[str, ...]
    feeders: tuple[str, ...] | None = None
    description: str | None = None


@dataclass(frozen=True)
class WithSecret:
    endpoint: Endpoint
    secret: Secret = field(repr=False)


def effective_feeders(owner: Owner, feeders: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The filter, which must lie within the owner's area; no filter: the whole area."""
    if feeders is None:
        return None if owner.area is None else tuple(sorted(owner.area))
    outside = sorted(set(feeders) - owner.area) if owner.area is not None else []
    if outside:
        raise Forbidden(f"the webhook's feeders reach outside the area of {owner.name!r}: "
                        f"{', '.join(outside[:10])}", extra={"feeders_outside_area": outside[:100]})
    return tuple(sorted(set(feeders)))


def _keyring(keyring: Keyring | None) -> Keyring:
    if keyring is None:
        raise Unavailable("webhooks need a master key to seal their secrets; start gridjobs with one")
    return keyring


async def create(keyring: Keyring | None, owner: Owner, request: Request, *,
                 allow_hosts: frozenset[str] = frozenset()) -> WithSecret:
    ring = _keyring(keyring)
    url = check_url(request.url, allow_hosts=allow_hosts)
    new = NewEndpoint(uuid4(), owner.name, url, tuple(dict.fromkeys(request.event_types)),
                      effective_feeders(owner, request.feeders), request.description)
    secret = Secret.generate()
    async with ring.pool.acquire() as conn, conn.transaction():
        if await rows.count_endpoints(conn, owner.name) >= MAX_ENDPOINTS_PER_PRINCIPAL:
            raise Conflict(f"{owner.name!r} has {MAX_ENDPOINTS_PER_PRINCIPAL} webhooks, the most one "
                           "principal may have; delete one first")
        endpoint = await rows.insert_endpoint(conn, new)
        await _store_secret(conn, ring, endpoint.id, 1, secret)
    return WithSecret(endpoint, secret)


async def _store_secret(conn: asyncpg.Connection, ring: Keyring, endpoint_id: UUID, version: int,
                        secret: Secret) -> None:
    sealed = seal_secret(ring.master, endpoint_id, version, secret)
    await rows.insert_secret(conn, endpoint_id, version, wrapped=sealed.wrapped, nonce=sealed.nonce,
                             master_version=ring.master_version, overlap_s=SECRET_OVERLAP_S)


async def rotate(keyring: Keyring | None, owner: Owner, endpoint_id: UUID) -> WithSecret:
    """A new secret; the previous one keeps signing for SECRET_OVERLAP_S."""
    ring = _keyring(keyring)
    secret = Secret.generate()
    async with ring.pool.acquire() as conn, conn.transaction():
        version = await rows.next_secret_version(conn, endpoint_id, owner.name)
        await _store_secret(conn, ring, endpoint_id, version, secret)
        endpoint = await rows.get_endpoint(conn, endpoint_id)
    return WithSecret(endpoint, secret)


async def get(pool: asyncpg.Pool, owner: Owner, endpoint_id: UUID) -> Endpoint:
    """The principal's own endpoint; any other reads as missing."""
    endpoint = await rows.get_endpoint(pool, endpoint_id)
    if endpoint is None or endpoint.principal != owner.name:
        raise NotFound(f"webhook {endpoint_id} does not exist")
    return endpoint


async def delete(pool: asyncpg.Pool, owner: Owner, endpoint_id: UUID) -> None:
    if not await rows.delete_endpoint(pool, endpoint_id, owner.name):
        raise NotFound(f"webhook {endpoint_id} does not exist")


async def check_callback(conn: asyncpg.Connection | asyncpg.Pool, owner: Owner, endpoint_id: UUID) -> None:
    """A submission's callback names an enabled endpoint of its submitter (422 or 403 otherwise)."""
    endpoint = await rows.get_endpoint(conn, endpoint_id)
    field_error = {"errors": [{"field": "callback.webhook_id", "message": "a webhook of yours"}]}
    if endpoint is None:
        raise ValidationFailed(f"callback: webhook {endpoint_id} does not exist", extra=field_error)
    if endpoint.principal != owner.name:
        raise Forbidden(f"callback: webhook {endpoint_id} belongs to another principal")
    if endpoint.status != "enabled":
        raise ValidationFailed(f"callback: webhook {endpoint_id} is disabled ({endpoint.disabled_reason})",
                               extra=field_error)
