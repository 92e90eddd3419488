"""Group commit of submissions: concurrent submissions share statements, each still
gets its own answer, keys stay exactly-once, and one bad row fails only itself."""

from __future__ import annotations

import asyncio

import pytest

from gridjobs import background
from gridjobs.errors import GridjobsError, IdempotencyInFlight
from gridjobs.records import Outcome
from gridjobs.states import OutcomeState
from gridjobs.store.database import connect
from gridjobs.store.group_commit import Announcer, GroupCommit
from gridjobs.store.leases import Lease, claim_next
from gridjobs.store.operations import NewOperation, get_operation, submit
from gridjobs.store.queries import Q

N = 60


async def _feeders(conn):
    return frozenset({"F1"})


def _new(n: int = 0, priority: int = 0) -> NewOperation:
    return NewOperation("load_shed", priority, {"n": n})


@pytest.fixture
async def batcher(pool):
    group = GroupCommit(pool)
    yield group
    await group.close()


async def test_concurrent_submissions_share_statements_and_each_gets_its_own(pool, batcher):
    answers = await asyncio.gather(*(
        submit(pool, NewOperation("load_shed", n % 3, {"n": n, "x": [1.5, None]}, submitted_by="tester"),
               validate=_feeders, idempotency_key=f"k{n}", request_hash=f"h{n}", batcher=batcher)
        for n in range(N)))
    assert len({a.operation.id for a in answers}) == N and not any(a.replayed for a in answers)
    assert [a.operation.params["n"] for a in answers] == list(range(N))
    assert all(a.operation.feeders == ("F1",) for a in answers)
    assert await pool.fetchval("SELECT count(*) FROM operations") == N
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == N
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'operation.accepted'") == N
    assert batcher.batches < N and batcher.largest > 1
    # The answer is made from what was sent and the row's status and created_at: it is
    # the operation as stored, field for field.
    stored = await asyncio.gather(*(get_operation(pool, a.operation.id) for a in answers))
    assert [a.operation for a in answers] == stored


async def test_without_keys_too(pool, batcher):
    answers = await asyncio.gather(*(submit(pool, _new(n), validate=_feeders, batcher=batcher)
                                     for n in range(10)))
    assert len({a.operation.id for a in answers}) == 10
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_one_key_many_times_at_once_makes_exactly_one_row(pool, batcher):
    answers = await asyncio.gather(*(
        submit(pool, _new(), validate=_feeders, idempotency_key="same", request_hash="h", batcher=batcher)
        for _ in range(16)), return_exceptions=True)
    accepted = [a for a in answers if not isinstance(a, BaseException)]
    assert all(isinstance(a, IdempotencyInFlight) for a in answers if isinstance(a, BaseException))
    assert len({a.operation.id for a in accepted}) == 1
    assert sum(not a.replayed for a in accepted) == 1
    assert await pool.fetchval("SELECT count(*) FROM operations") == 1


async def test_a_bad_row_fails_alone(pool, batcher):
    answers = await asyncio.gather(
        *(submit(pool, _new(n), validate=_feeders, batcher=batcher) for n in range(5)),
        submit(pool, _new(99, priority=2**40), validate=_feeders, batcher=batcher),  # no integer
        return_exceptions=True)
    assert isinstance(answers[-1], GridjobsError) and answers[-1].status == 422
    assert not any(isinstance(a, BaseException) for a in answers[:-1]), answers
    assert await pool.fetchval("SELECT count(*) FROM operations") == 5


async def test_a_row_that_cannot_be_json_text_fails_alone(pool, batcher):
    """The batch goes as one JSON text; a value that text cannot carry (a lone surrogate)
    sends the batch row by row, where only its own row fails."""
    bad = NewOperation("load_shed", 0, {"n": "\ud800"})
    answers = await asyncio.gather(
        *(submit(pool, _new(n), validate=_feeders, batcher=batcher) for n in range(5)),
        submit(pool, bad, validate=_feeders, batcher=batcher), return_exceptions=True)
    assert isinstance(answers[-1], GridjobsError), answers[-1]
    assert sorted(a.operation.params["n"] for a in answers[:-1]) == list(range(5))
    assert await pool.fetchval("SELECT count(*) FROM operations") == 5


async def test_close_fails_what_is_parked(pool):
    group = GroupCommit(pool)
    await group.close()
    with pytest.raises(RuntimeError):
        await group.insert(("x",) * 10)


async def test_a_writer_that_fails_answers_its_callers_at_once_and_is_replaced(pool, batcher):
    real_write, calls = batcher._write, []

    async def broken(batch) -> None:
        calls.append(len(batch))
        raise ValueError("a bug in the writer")

    batcher._write = broken
    async with asyncio.timeout(10):   # every caller is answered: none waits for a timeout
        answers = await asyncio.gather(*(submit(pool, _new(n), validate=_feeders, batcher=batcher)
                                         for n in range(8)), return_exceptions=True)
    assert calls and all(isinstance(a, RuntimeError) and "ValueError" in str(a) for a in answers), answers
    assert "gridjobs-group-commit" in background.failed()
    batcher._write = real_write
    answer = await submit(pool, _new(9), validate=_feeders, batcher=batcher)   # a new writer takes it
    assert answer.operation.params == {"n": 9}
    assert "gridjobs-group-commit" not in background.failed()
    assert await pool.fetchval("SELECT count(*) FROM operations") == 1


CHANNELS = ("gridjobs_queued", "gridjobs_events")


@pytest.fixture
async def heard(db_url):
    """(channel, payload) of every NOTIFY on CHANNELS and on `marker`, in commit order."""
    conn = await connect(db_url)
    got: asyncio.Queue = asyncio.Queue(maxsize=1000)
    for channel in (*CHANNELS, "marker"):
        await conn.add_listener(channel, lambda _c, _pid, channel, payload: got.put_nowait((channel, payload)))
    yield got
    await conn.close()


async def _until_marker(pool, heard: asyncio.Queue) -> list[tuple[str, str]]:
    """What was heard before a NOTIFY committed after everything so far (delivered in order)."""
    await pool.execute("SELECT pg_notify('marker', 'end')")
    seen = []
    async with asyncio.timeout(10):
        while (note := await heard.get()) != ("marker", "end"):
            seen.append(note)
    return seen


async def test_a_batch_commits_without_notify_while_other_event_writers_still_do(pool, heard):
    document = '[{"id": "6f1c8a52-5b0e-4a43-9d0e-0c2b1d1e7a01", "kind": "load_shed", "priority": 0, ' \
               '"params": {}, "feeders": ["F1"], "submitted_by": null, "callback_webhook_id": null, ' \
               '"key": "k1", "request_hash": "h", "ttl_s": 60}]'
    [row] = await pool.fetch(Q["submit_operations"], document)
    assert row["key_saved"]
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'operation.accepted'") == 1
    # Its operation.accepted event sent nothing: PostgreSQL would have serialised the commit.
    assert await _until_marker(pool, heard) == []
    # Every other writer of events still wakes the relays at its commit.
    await pool.execute(Q["insert_operation"], "6f1c8a52-5b0e-4a43-9d0e-0c2b1d1e7a02", "load_shed", 0,
                       {}, ["F1"], None, None)
    assert set(await _until_marker(pool, heard)) == {("gridjobs_queued", "6f1c8a52-5b0e-4a43-9d0e-0c2b1d1e7a02"),
                                                    ("gridjobs_events", "")}


async def test_a_statement_that_writes_no_event_wakes_nobody(pool, heard):
    """The events trigger fires per statement, rows or none: only a transaction that wrote
    an event sends the wake (and takes PostgreSQL's commit-time NOTIFY lock)."""
    await submit(pool, _new(), validate=_feeders)
    lease = Lease(pool, await claim_next(pool, owner="test", lease_s=30), 30)
    await _until_marker(pool, heard)   # the intake's and the claim's wakes
    await lease.record([Outcome("a", OutcomeState.SUCCEEDED, "curtail", 0)])   # first progress: an event
    assert await _until_marker(pool, heard) == [("gridjobs_events", "")]
    await lease.record([Outcome("a", OutcomeState.SUCCEEDED, "curtail", 0)])   # no device.failed; counts as they were
    await lease.heartbeat()                                                    # nothing moved
    await lease.save_checkpoint({"note": 1})                                   # no new position
    assert await _until_marker(pool, heard) == []
    await lease.record([Outcome("c", OutcomeState.FAILED, "curtail", 2, code="device_timeout")])
    assert await _until_marker(pool, heard) == [("gridjobs_events", "")]


async def test_submissions_through_the_group_commit_are_announced_once_per_burst(pool, batcher, heard):
    answers = await asyncio.gather(*(submit(pool, _new(n), validate=_feeders, batcher=batcher)
                                     for n in range(N)))
    assert len(answers) == N
    async with asyncio.timeout(10):   # the announcement follows the last commit
        while batcher.announcer.sent == 0 or heard.qsize() < 2:
            await asyncio.sleep(0.01)
    notes = await _until_marker(pool, heard)
    assert {channel for channel, _ in notes} == set(CHANNELS)
    assert 1 <= batcher.announcer.sent <= batcher.batches
    assert len(notes) == 2 * batcher.announcer.sent   # one of each per announcement, never per row


async def test_the_announcer_makes_the_wakes_of_an_interval_one(pool, heard):
    announcer = Announcer(pool, every_s=3600)   # after the first, nothing more within the test
    announcer.start()
    try:
        for _ in range(5):
            announcer.due()
        async with asyncio.timeout(10):
            while announcer.sent == 0:
                await asyncio.sleep(0.01)
        announcer.due()
        assert sorted(await _until_marker(pool, heard)) == sorted((c, "") for c in CHANNELS)
        assert announcer.sent == 1
    finally:
        await announcer.close()
