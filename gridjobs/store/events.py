"""Reading the event outbox. Events are written by the SQL that makes each change
(queries.sql); this module only reads them, in id order, below the horizon.

Ids are (writing transaction id << 20) + the event's number in its transaction,
and a reader takes only ids below events_horizon(), the oldest transaction still
in flight shifted the same way. Every event not yet readable therefore has an id
above every id already read: a reader that resumes after id N misses nothing and
sees nothing twice (schema.sql; tests/integration/test_event_order.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from uuid import UUID

import asyncpg

from gridjobs.store.database import translated
from gridjobs.store.queries import Q

EVENTS_CHANNEL = "gridjobs_events"          # NOTIFY at the commit of any event
DELIVERIES_CHANNEL = "gridjobs_deliveries"  # NOTIFY when deliveries are due


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    operation_id: UUID | None
    principal: str | None          # an event addressed to one principal (webhook.disabled)
    data: dict[str, Any]
    created_at: datetime
    feeders: tuple[str, ...] = ()  # its operation's feeders

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Event":
        return cls(row["id"], row["type"], row["operation_id"], row["principal"], row["data"],
                   row["created_at"], tuple(row["feeders"]))

    def envelope(self) -> dict[str, Any]:
        """The Standard Webhooks payload."""
        return {"type": self.type, "timestamp": iso_z(self.created_at), "data": self.data}


def iso_z(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class EventFilter:
    """Which events a reader wants; None means no restriction."""

    operation_id: UUID | None = None
    types: frozenset[str] | None = None
    area: frozenset[str] | None = None       # the principal's area: feeders must lie within it
    feeders: frozenset[str] | None = None    # a filter: feeders must lie within it too
    principal: str | None = None             # events addressed to this principal pass

    def matches(self, event: Event) -> bool:
        feeders = set(event.feeders)
        return ((self.operation_id is None or event.operation_id == self.operation_id)
                and (self.types is None or event.type in self.types)
                and (self.area is None or feeders <= self.area)
                and (self.feeders is None or feeders <= self.feeders)
                and (event.principal is None or event.principal == self.principal))


def _array(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


@translated
async def events_after(pool: asyncpg.Pool, after: int, *, limit: int, until: int | None = None,
                       where: EventFilter = EventFilter()) -> list[Event]:
    """Events with ids in (after, until] that `where` matches, oldest first, readable now."""
    rows = await pool.fetch(Q["events_after"], after, limit, until, where.operation_id,
                            _array(where.types), _array(where.area), _array(where.feeders),
                            where.principal)
    return [Event.from_row(r) for r in rows]


@translated
async def last_event_id(pool: asyncpg.Pool) -> int:
    """The highest id a reader may pass now (0: none yet)."""
    return await pool.fetchval(Q["last_event_id"])


@translated
async def held_back(pool: asyncpg.Pool) -> bool:
    """Whether committed events wait above the horizon for an older transaction to end."""
    return await pool.fetchval(Q["events_held_back"])


@translated
async def terminal_event_id(pool: asyncpg.Pool, operation_id: UUID) -> int | None:
    return await pool.fetchval(Q["terminal_event_id"], operation_id)


@translated
async def purge_events(pool: asyncpg.Pool, *, older_than_s: float, limit: int) -> int:
    status = await pool.execute(Q["purge_events"], older_than_s, limit)
    return int(status.split()[-1])
