"""An operation's outcome counts (outcome_counts, kept by statement triggers on
device_outcomes) are what counting its outcome rows would give, after every kind of
write, under concurrent writers, and for outcomes written before the migration that
added them. Reading them visits no outcome row."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import asyncpg

from gridjobs.records import Outcome
from gridjobs.states import OutcomeState
from gridjobs.store.database import list_migrations
from gridjobs.store.leases import Lease, claim_next
from gridjobs.store.operations import NewOperation, get_operation_summary, submit
from gridjobs.store.queries import Q
from tests.conftest import _with_db
from tests.integration.test_query_plans import explained, rows_visited

STATES = [s.value for s in OutcomeState]
COUNTED = """
SELECT o.id::text AS id, coalesce(c.total, 0) AS total, coalesce(c.succeeded, 0) AS succeeded,
       coalesce(c.failed, 0) AS failed
FROM operations o LEFT JOIN outcome_counts c ON c.operation_id = o.id ORDER BY 1"""
TRUE_COUNTS = """
SELECT o.id::text AS id, count(d.device_id) AS total,
       count(*) FILTER (WHERE d.state = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE d.state IN ('failed', 'cancelled')) AS failed
FROM operations o LEFT JOIN device_outcomes d ON d.operation_id = o.id GROUP BY o.id ORDER BY 1"""
UPSERT = """
INSERT INTO device_outcomes AS d (operation_id, device_id, state, step, seq)
SELECT $1, u.device_id, u.state, 'curtail', u.seq
FROM unnest($2::text[], $3::text[], $4::integer[]) AS u(device_id, state, seq)
ON CONFLICT (operation_id, device_id) DO UPDATE SET state = EXCLUDED.state"""


async def _no_check(conn):
    return frozenset({"F1"})


async def _queued(pool) -> uuid.UUID:
    return (await submit(pool, NewOperation("load_shed", 0, {}), validate=_no_check)).operation.id


async def _both(conn) -> tuple[list[tuple], list[tuple]]:
    return ([tuple(r) for r in await conn.fetch(COUNTED)], [tuple(r) for r in await conn.fetch(TRUE_COUNTS)])


async def test_the_counts_follow_every_write_a_run_makes(pool):
    """A seeded mix of a run's writes (new devices, state changes both ways, rewrites
    that change nothing) across two operations, checked after each one."""
    rng = random.Random(14)
    for _ in range(2):
        await _queued(pool)
    leases = [Lease(pool, await claim_next(pool, owner="test", lease_s=30), 30) for _ in range(2)]
    seqs: list[dict[str, int]] = [{}, {}]
    for _ in range(40):
        which = rng.randrange(2)
        devices = rng.sample([f"d{i}" for i in range(60)], rng.randint(1, 25))
        outcomes = [Outcome(d, OutcomeState(rng.choice(STATES)), "curtail",
                            seqs[which].setdefault(d, len(seqs[which]))) for d in devices]
        await leases[which].record(outcomes)
        counted, true = await _both(pool)
        assert counted == true
    summary = await get_operation_summary(pool, leases[0].operation_id)
    row = next(r for r in true if r[0] == str(leases[0].operation_id))
    assert (summary.progress.total, summary.progress.succeeded, summary.progress.failed) == row[1:]
    assert summary.progress.total > 0


async def test_concurrent_writers_of_the_same_devices_keep_the_counts_exact(pool):
    """Transactions that overlap in time and in devices: each counts what it changed
    over the row versions it actually replaced, not over what its snapshot saw."""
    operation = await _queued(pool)
    rng = random.Random(7)
    devices = [f"d{i}" for i in range(40)]

    async def writer(seed: int) -> None:
        mine = random.Random(seed)
        async with pool.acquire() as conn:
            for _ in range(15):
                chosen = sorted(mine.sample(devices, 20))   # rows taken in one order: no deadlock
                async with conn.transaction():
                    await conn.execute(UPSERT, operation, chosen,
                                       [mine.choice(STATES) for _ in chosen],
                                       [devices.index(d) for d in chosen])
                    await asyncio.sleep(mine.random() / 200)   # hold its row locks a while

    await asyncio.gather(*(writer(rng.randrange(1 << 30)) for _ in range(4)))
    counted, true = await _both(pool)
    assert counted == true
    assert true[0][1] == len(devices)


async def test_deleting_an_operation_takes_its_counts_and_outcomes(pool):
    kept, dropped = await _queued(pool), await _queued(pool)
    for operation in (kept, dropped):
        await pool.execute(UPSERT, operation, ["a", "b"], ["succeeded", "failed"], [0, 1])
    await pool.execute("DELETE FROM device_outcomes WHERE operation_id = $1 AND device_id = 'a'", kept)
    await pool.execute("DELETE FROM operations WHERE id = $1", dropped)
    counted, true = await _both(pool)
    assert counted == true == [(str(kept), 1, 0, 1)]
    assert await pool.fetchval("SELECT count(*) FROM outcome_counts") == 1


async def test_the_migration_counts_the_outcomes_written_before_it(admin_url):
    """An existing database: 0010 counts the outcomes already there, then keeps counting."""
    name = f"gridjobs_m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conn = await asyncpg.connect(_with_db(admin_url, name))
        try:
            migrations = list_migrations()
            added = next(m for m in migrations if m.name == "outcome_counts")
            for migration in migrations:
                if migration.version < added.version:
                    await conn.execute(migration.path.read_text())
            operations = [uuid.uuid4() for _ in range(3)]
            for i, operation in enumerate(operations):
                await conn.execute("INSERT INTO operations (id, kind, status, params) "
                                   "VALUES ($1, 'load_shed', 'running', $2)", operation, json.dumps({}))
                states = (["succeeded"] * (i + 1) + ["failed", "cancelled", "running"])[: 2 + i]
                await conn.execute(UPSERT, operation, [f"d{j}" for j in range(len(states))], states,
                                   list(range(len(states))))
            async with conn.transaction():
                await conn.execute(added.path.read_text())
            counted, true = await _both(conn)
            assert counted == true and sum(r[1] for r in true) == 2 + 3 + 4
            await conn.execute(UPSERT, operations[0], ["d0", "new"], ["failed", "pending"], [0, 9])
            counted, true = await _both(conn)
            assert counted == true
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_reading_an_operation_and_its_progress_visits_no_outcome_row(pool):
    operation = await _queued(pool)
    devices = [f"d{i}" for i in range(5000)]
    await pool.execute(UPSERT, operation, devices, ["succeeded"] * len(devices), list(range(len(devices))))
    await pool.execute("ANALYZE device_outcomes")
    for query in ("get_operation", "get_operation_summary"):
        plan = await explained(pool, Q[query], operation)
        assert rows_visited(plan, "device_outcomes") == 0, (query, plan)
    row = await pool.fetchrow(Q["get_operation_summary"], operation)
    assert (row["total"], row["succeeded"], row["failed"]) == (5000, 5000, 0)
