"""The outbox's readers touch what they hand out, not the whole table.

The webhook relay and the event hub run a step on every committed batch of events,
so a step that walks the events table from its start slows every write as the outbox
grows (with intake alone, 4,100 accepted operations a second fell to 2,500 over
200,000 events). These tests read PostgreSQL's own plan of each step, on a table of
20,000 events with the reader 50 events from its end, and count the event rows the
step visited: an index range from the cursor visits about 50; a scan from the start
visits all of them. Rows counted, not time: the figure does not depend on the machine.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from gridjobs.store.deliveries import WEBHOOK_CURSOR, ensure_cursor, relay
from gridjobs.store.events import held_back
from gridjobs.store.queries import Q

EVENTS = 20_000
UNREAD = 50
BATCH = 100
VISIT_BOUND = 2 * BATCH   # far below EVENTS


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def events_visited(explained: Any) -> int:
    """Rows of `events` the executed plan read: those it returned and those its filters dropped."""
    root = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    return sum(
        (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1)
        for node in _nodes(root) if node.get("Relation Name") == "events"
    )


@pytest.fixture
async def outbox(pool):
    """EVENTS committed events; the webhook relay's cursor UNREAD events before the last."""
    await ensure_cursor(pool)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("INSERT INTO events (type, data) "
                               "SELECT 'test.event', '{}'::jsonb FROM generate_series(1, $1)", EVENTS)
        await conn.execute("ANALYZE events")
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM events ORDER BY id DESC LIMIT $1", UNREAD + 1)]
        await conn.execute("UPDATE outbox_cursors SET position = $1 WHERE name = $2", ids[-1], WEBHOOK_CURSOR)
    return pool


async def explained(pool, query: str, *args: Any) -> Any:
    """EXPLAIN ANALYZE of a step as the store runs it (a prepared statement, generic plan
    forced), rolled back."""
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            return await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args)
        finally:
            await tx.rollback()


async def test_a_relay_step_reads_from_its_cursor(outbox):
    plan = await explained(outbox, Q["relay_events"], WEBHOOK_CURSOR, BATCH)
    assert events_visited(plan) <= VISIT_BOUND, plan


async def test_the_relay_still_relays_what_follows_its_cursor(outbox):
    step = await relay(outbox, limit=BATCH)
    assert (step.held, step.events, step.held_back) == (True, UNREAD, False)
    assert (await relay(outbox, limit=BATCH)).events == 0


async def test_asking_whether_events_are_held_back_reads_one_row(outbox):
    plan = await explained(outbox, Q["events_held_back"])
    assert events_visited(plan) <= 1, plan
    assert await held_back(outbox) is False


async def test_an_event_above_the_horizon_is_still_seen_as_held_back(outbox):
    """An open transaction that wrote an event holds back one committed after it."""
    early, late = await outbox.acquire(), await outbox.acquire()
    try:
        slow = early.transaction()
        await slow.start()
        await early.execute("INSERT INTO events (type, data) VALUES ('test.event', '{}')")
        async with late.transaction():
            await late.execute("INSERT INTO events (type, data) VALUES ('test.event', '{}')")
        assert await held_back(outbox) is True
        assert (await relay(outbox, limit=BATCH)).held_back is True
        await slow.rollback()
        assert await held_back(outbox) is False
    finally:
        await outbox.release(early)
        await outbox.release(late)
