"""One event stream: what was missed (from Postgres), then what comes (from the hub).

The subscription is taken first, at the hub's position P. Events after the
client's Last-Event-ID up to P are read from Postgres; everything after P comes
through the subscription. Ids only grow, so nothing is sent twice and nothing
falls between the two. A per-operation stream ends after the operation's
terminal event; any stream ends when its subscription overflows or closes.
"""

from __future__ import annotations

from typing import AsyncIterator

import asyncpg

from gridjobs.event_types import TERMINAL_EVENTS
from gridjobs.metrics import EVENT_STREAMS_CUT
from gridjobs.outbox.hub import EventHub
from gridjobs.store.events import Event, EventFilter, events_after, terminal_event_id

CATCH_UP_BATCH = 500


async def follow(pool: asyncpg.Pool, hub: EventHub, where: EventFilter, *, after: int | None,
                 capacity: int) -> AsyncIterator[Event]:
    """Events after `after` (None: from now on; for one operation: from its start)."""
    if where.operation_id is not None:
        after = after or 0
        done = await terminal_event_id(pool, where.operation_id)
        if done is not None and done <= after:
            return
    subscription = hub.subscribe(where, capacity)
    try:
        last = subscription.start if after is None else after
        async for event in _missed(pool, where, last, subscription.start):
            yield event
            last = event.id
            if _ends(where, event):
                return
        async for event in _live(subscription, last):
            yield event
            if _ends(where, event):
                return
    finally:
        hub.unsubscribe(subscription)


async def _missed(pool: asyncpg.Pool, where: EventFilter, after: int, until: int) -> AsyncIterator[Event]:
    while after < until:
        batch = await events_after(pool, after, limit=CATCH_UP_BATCH, until=until, where=where)
        for event in batch:
            yield event
        if len(batch) < CATCH_UP_BATCH:
            return
        after = batch[-1].id


async def _live(subscription, last: int) -> AsyncIterator[Event]:
    while (event := await subscription.next()) is not None:
        if event.id > last:
            yield event
            last = event.id
    if subscription.overflowed:
        EVENT_STREAMS_CUT.labels("overflow").inc()


def _ends(where: EventFilter, event: Event) -> bool:
    return where.operation_id is not None and event.type in TERMINAL_EVENTS
