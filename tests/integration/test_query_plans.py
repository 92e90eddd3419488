"""The statements that run on every commit, every claim or every half second touch what
they need, not the whole history.

The webhook relay and the event hub run a step after every committed batch of
events, the dispatcher claims from the queue each time it has room, and the admission
refresher counts the queue twice a second. A step that walks the events table from its
start, or a claim or a count that sorts every operation, slows everything as the outbox
or the queue grows: with intake alone, 4,100 accepted operations a second fell to 2,500
over 200,000 events; with 100,000 queued, a claim took 30-50 ms. These tests read
PostgreSQL's own plan of each statement as the store runs it, on tables of 20,000 rows,
and count the rows it visited or sorted. Rows counted, not time: the figure does not
depend on the machine.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from gridjobs.store import leases
from gridjobs.store.deliveries import WEBHOOK_CURSOR, ensure_cursor, relay
from gridjobs.store.events import held_back
from gridjobs.store.queries import Q

ROWS = 20_000
UNREAD = 50
BATCH = 100
VISIT_BOUND = 2 * BATCH   # far below ROWS


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(explained: Any) -> dict[str, Any]:
    return (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]


def rows_visited(explained: Any, relation: str) -> int:
    """Rows of `relation` the executed plan read: those it returned and those its filters dropped."""
    return sum(
        (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1)
        for node in _nodes(_plan(explained)) if node.get("Relation Name") == relation
    )


def rows_sorted(explained: Any) -> int:
    """The most rows any one Sort of the executed plan sorted (a sort puts out all it takes)."""
    return max((node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
                for node in _nodes(_plan(explained)) if node.get("Node Type") == "Sort"), default=0)


async def explained(pool, query: str, *args: Any) -> Any:
    """EXPLAIN ANALYZE of a statement as the store runs it (prepared, with the generic plan
    forced), rolled back."""
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            return await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args)
        finally:
            await tx.rollback()


# -- the outbox ------------------------------------------------------------------------

@pytest.fixture
async def outbox(pool):
    """ROWS committed events; the webhook relay's cursor UNREAD events before the last."""
    await ensure_cursor(pool)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("INSERT INTO events (type, data) "
                               "SELECT 'test.event', '{}'::jsonb FROM generate_series(1, $1)", ROWS)
        await conn.execute("ANALYZE events")
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM events ORDER BY id DESC LIMIT $1", UNREAD + 1)]
        await conn.execute("UPDATE outbox_cursors SET position = $1 WHERE name = $2", ids[-1], WEBHOOK_CURSOR)
    return pool


async def test_a_relay_step_reads_from_its_cursor(outbox):
    plan = await explained(outbox, Q["relay_events"], WEBHOOK_CURSOR, BATCH)
    assert rows_visited(plan, "events") <= VISIT_BOUND, plan


async def test_the_relay_still_relays_what_follows_its_cursor(outbox):
    step = await relay(outbox, limit=BATCH)
    assert (step.held, step.events, step.held_back) == (True, UNREAD, False)
    assert (await relay(outbox, limit=BATCH)).events == 0


async def test_asking_whether_events_are_held_back_reads_one_row(outbox):
    plan = await explained(outbox, Q["events_held_back"])
    assert rows_visited(plan, "events") <= 1, plan
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


# -- the queue ---------------------------------------------------------------------------

QUEUE_INSERT = """
INSERT INTO operations (id, kind, status, priority, params, feeders, created_at, lease_expires_at)
SELECT gen_random_uuid(), 'load_shed', $1, $2, '{}'::jsonb, '{F1}',
       now() - make_interval(secs => $3 + g), now() + make_interval(secs => $4)
FROM generate_series(1, $5) g"""


@pytest.fixture
async def deep_queue(pool):
    """ROWS queued operations behind two running ones (live leases) and a paused one whose
    lease ran out (its process died), all older than the queued ones."""
    async with pool.acquire() as conn:
        await conn.execute(QUEUE_INSERT, "queued", 0, 0, None, ROWS)   # no lease
        await conn.execute(QUEUE_INSERT, "running", 0, ROWS + 10, 3600.0, 2)
        await conn.execute(QUEUE_INSERT, "paused", 0, ROWS + 20, -60.0, 1)
        await conn.execute("ANALYZE operations")
    return pool


async def test_a_claim_reads_the_head_of_the_queue(deep_queue):
    plan = await explained(deep_queue, Q["claim_operation"], "me", 30.0, [])
    assert rows_visited(plan, "operations") <= 10, plan


async def test_a_claim_takes_over_the_paused_operation_then_the_oldest_queued(deep_queue):
    paused = await deep_queue.fetchval("SELECT id FROM operations WHERE status = 'paused'")
    oldest = await deep_queue.fetchval(
        "SELECT id FROM operations WHERE status = 'queued' ORDER BY created_at LIMIT 1")
    first = await leases.claim_next(deep_queue, owner="me", lease_s=30)
    second = await leases.claim_next(deep_queue, owner="me", lease_s=30, running=[first.id])
    assert (first.id, first.status, first.fence) == (paused, "paused", 1)
    assert (second.id, second.status) == (oldest, "running")



async def test_the_admission_read_groups_the_queue_without_sorting_it(pool):
    """The refresher counts the active operations per (kind, status, priority) every half
    second: in index order or by hashing, never by sorting the whole queue (which spills
    to disk past work_mem, 70 ms at 150,000 queued), even right after a burst, while the
    planner's statistics still describe a history of finished operations."""
    await pool.execute(QUEUE_INSERT, "succeeded", 0, 2 * ROWS, None, ROWS)
    await pool.execute("ANALYZE operations")
    await pool.execute(QUEUE_INSERT, "queued", 0, 0, None, ROWS)   # the burst, not yet analyzed
    plan = await explained(pool, Q["queue_groups"])
    assert rows_sorted(plan) <= 10, plan
    groups = await pool.fetch(Q["queue_groups"])
    assert [(g["kind"], g["status"], g["operations"]) for g in groups] == [("load_shed", "queued", ROWS)]
