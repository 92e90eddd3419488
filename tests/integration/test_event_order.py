"""The outbox hands events out in an order a resuming reader can trust.

Concurrent transactions commit out of the order they took their ids in. A reader
that resumed after "the highest id it saw" would then skip an event that commits
later with a smaller id. gridjobs ids are (xid << 20) + n and readers stop below
the oldest transaction in flight, so the first test shows the hazard being held
back, and the second runs writers and a resuming reader concurrently and checks
that the reader saw every event exactly once, in id order.
"""

from __future__ import annotations

import asyncio
import random

from gridjobs.store.events import EventFilter, events_after, last_event_id

INSERT = "INSERT INTO events (type, data) VALUES ('test.event', $1::jsonb) RETURNING id"


async def test_a_later_commit_with_a_higher_id_waits_for_the_earlier_transaction(pool):
    early, late = await pool.acquire(), await pool.acquire()
    try:
        slow = early.transaction()
        await slow.start()
        first = await early.fetchval(INSERT, {"n": 1})   # takes its id, then stays in flight
        async with late.transaction():
            second = await late.fetchval(INSERT, {"n": 2})
        assert first < second                         # committed out of id order
        assert await events_after(pool, 0, limit=10) == []   # the later one is held back
        assert await last_event_id(pool) == 0
        await slow.commit()
        seen = await events_after(pool, 0, limit=10)
        assert [e.id for e in seen] == [first, second]
        assert await last_event_id(pool) == second
    finally:
        await pool.release(early)
        await pool.release(late)


async def test_a_transaction_in_another_database_holds_nothing_back(pool, admin_url):
    import asyncpg
    elsewhere = await asyncpg.connect(admin_url)   # the server's own database, not this test's
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")   # an xid, in flight
            async with pool.acquire() as conn, conn.transaction():
                written = await conn.fetchval(INSERT, {"n": 1})
            assert [e.id for e in await events_after(pool, 0, limit=10)] == [written]
    finally:
        await elsewhere.close()


async def _writer(pool, rng: random.Random, transactions: int, written: list[int]) -> None:
    for _ in range(transactions):
        async with pool.acquire() as conn, conn.transaction():
            ids = [await conn.fetchval(INSERT, {"w": 1}) for _ in range(rng.randint(1, 3))]
            await asyncio.sleep(rng.random() * 0.02)   # commit after others, sometimes
        written.extend(ids)


async def _reader(pool, done: asyncio.Event, seen: list[int]) -> None:
    after = 0
    for _ in range(10_000):   # bounded; ends once the writers are done and it caught up
        batch = await events_after(pool, after, limit=7, where=EventFilter(types=frozenset({"test.event"})))
        seen.extend(e.id for e in batch)
        after = batch[-1].id if batch else after
        if not batch and done.is_set() and after == await last_event_id(pool):
            return
        await asyncio.sleep(0.001)


async def test_a_resuming_reader_sees_every_event_once_while_writers_race(db_url):
    from gridjobs.store.database import create_pool
    pool = await create_pool(db_url, min_size=2, max_size=10)
    try:
        rng, written, seen, done = random.Random(7), [], [], asyncio.Event()
        reader = asyncio.create_task(_reader(pool, done, seen))
        await asyncio.gather(*(_writer(pool, random.Random(rng.random()), 15, written) for _ in range(6)))
        done.set()
        await asyncio.wait_for(reader, timeout=60)
    finally:
        await pool.close()
    assert seen == sorted(written) and len(set(seen)) == len(seen) == len(written)
