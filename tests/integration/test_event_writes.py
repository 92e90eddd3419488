"""Each change writes its event with it, in the same statement or transaction; a
refused write writes neither. Reads filter in SQL as the hub filters in Python.
Retention purges what was delivered, bounded per run. Master key rotation moves
webhook secrets with the device keys."""

from __future__ import annotations

import asyncio

import pytest

from gridjobs.device_keys import ensure_master_key
from gridjobs.device_keys.keyring import open_keyring
from gridjobs.device_keys.store import rewrap_all
from gridjobs.errors import StaleLeaseError
from gridjobs.outbox.janitor import purge
from gridjobs.records import Outcome
from gridjobs.states import OutcomeState, Status
from gridjobs.store import deliveries
from gridjobs.store.events import Event, EventFilter, events_after
from gridjobs.store.leases import Lease, claim_next
from gridjobs.store.operations import NewOperation, cancel, submit
from gridjobs.store.webhooks import signing_secrets
from gridjobs.webhooks import endpoints
from gridjobs.webhooks.secrets import unseal_secret


async def _no_check(conn):
    return frozenset({"F1"})


async def queued(pool):
    return (await submit(pool, NewOperation("load_shed", 0, {}), validate=_no_check)).operation


async def types(pool, operation_id) -> list[str]:
    return [e.type for e in await events_after(pool, 0, limit=100, where=EventFilter(operation_id=operation_id))]


async def claimed(pool) -> Lease:
    op = await claim_next(pool, owner="test", lease_s=30)
    return Lease(pool, op, 30)


def outcome(device: str, state: OutcomeState, seq: int, code=None) -> Outcome:
    return Outcome(device, state, "curtail", seq, code=code)


async def test_a_run_writes_its_events_with_its_changes(pool):
    op = await queued(pool)
    lease = await claimed(pool)
    await lease.record([outcome("a", OutcomeState.RUNNING, 0), outcome("b", OutcomeState.FAILED, 1, "device_timeout")])
    await lease.record([outcome("b", OutcomeState.FAILED, 1, "device_timeout")])   # still failed: no new event
    await lease.record([outcome("a", OutcomeState.SUCCEEDED, 0)])   # within the second: no progress event
    await lease.pause()
    await lease.unpause()
    await lease.event("rollout.wave_started", {"wave": 1})
    await lease.finish(Status.SUCCEEDED, result={})
    assert await types(pool, op.id) == [
        "operation.accepted", "operation.started", "device.failed", "operation.progress", "operation.paused",
        "operation.resumed", "rollout.wave_started", "operation.succeeded"]
    seen = await events_after(pool, 0, limit=100, where=EventFilter(operation_id=op.id))
    assert seen[2].data == {"operation_id": str(op.id), "device_id": "b", "code": "device_timeout",
                            "step": "curtail"}
    assert seen[-1].data["progress"] == {"total": 2, "succeeded": 1, "failed": 1, "pending": 0}
    assert seen[-1].envelope()["timestamp"].endswith("Z") and seen[-1].feeders == ("F1",)


async def test_a_checkpoint_that_moves_the_run_sends_its_progress_at_once(pool):
    """The throttle holds back counts, not news: a new phase (here: every device shed, now
    holding) goes out in the checkpoint's transaction, however soon after the last event."""
    op = await queued(pool)
    lease = await claimed(pool)
    await lease.record([outcome("a", OutcomeState.RUNNING, 0), outcome("b", OutcomeState.RUNNING, 1)])
    await lease.save_checkpoint({"phase": "shed", "readings": {"a": 1.0}})
    await lease.record([outcome("a", OutcomeState.SUCCEEDED, 0), outcome("b", OutcomeState.SUCCEEDED, 1)])
    await lease.save_checkpoint({"phase": "shed", "readings": {"a": 1.0}, "note": 1})   # same position
    await lease.save_checkpoint({"phase": "hold", "hold_until": 1_900_000_000})
    await lease.save_checkpoint({"phase": "hold", "hold_until": 1_900_000_000})        # nothing moved
    progress = [e.data["progress"] for e in await events_after(pool, 0, limit=100, where=EventFilter(
        operation_id=op.id, types=frozenset({"operation.progress"})))]
    assert progress == [
        {"total": 2, "succeeded": 0, "failed": 0, "pending": 2},
        {"total": 2, "succeeded": 0, "failed": 0, "pending": 2, "phase": "shed"},
        {"total": 2, "succeeded": 2, "failed": 0, "pending": 0, "phase": "hold", "hold_until": 1_900_000_000},
    ]


async def test_a_checkpoint_is_fenced_and_writes_no_event_once_the_lease_moved(pool):
    op = await queued(pool)
    lease = await claimed(pool)
    await lease.record([outcome("a", OutcomeState.RUNNING, 0)])
    await pool.execute("UPDATE operations SET fence = fence + 1 WHERE id = $1", op.id)
    with pytest.raises(StaleLeaseError):
        await lease.save_checkpoint({"phase": "hold"})
    assert await types(pool, op.id) == ["operation.accepted", "operation.started", "operation.progress"]
    assert await pool.fetchval("SELECT checkpoint FROM operations WHERE id = $1", op.id) == {}


async def test_the_heartbeat_writes_the_trailing_progress(pool):
    op = await queued(pool)
    lease = await claimed(pool)
    await lease.record([outcome("a", OutcomeState.RUNNING, 0)])
    await lease.record([outcome("a", OutcomeState.SUCCEEDED, 0)])    # too soon for a second one
    await asyncio.sleep(1.1)
    await lease.heartbeat()
    await lease.heartbeat()                                           # nothing moved since: none
    progress = [e.data["progress"] for e in await events_after(pool, 0, limit=100, where=EventFilter(
        operation_id=op.id, types=frozenset({"operation.progress"})))]
    assert progress == [{"total": 1, "succeeded": 0, "failed": 0, "pending": 1},
                        {"total": 1, "succeeded": 1, "failed": 0, "pending": 0}]


async def test_a_stale_holder_writes_no_event(pool):
    op = await queued(pool)
    stale = await claimed(pool)
    await pool.execute("UPDATE operations SET fence = fence + 1 WHERE id = $1", op.id)   # taken over
    for write in (stale.finish(Status.SUCCEEDED, result={}), stale.pause(),
                  stale.record([outcome("a", OutcomeState.FAILED, 0, "x")]), stale.event("rollout.aborted", {})):
        with pytest.raises(StaleLeaseError):
            await write
    assert await types(pool, op.id) == ["operation.accepted", "operation.started"]


async def test_cancelling_a_queued_operation_says_so_and_a_running_one_waits_for_its_finish(pool):
    queued_op = await queued(pool)
    await cancel(pool, queued_op.id, by="me", authorize=lambda locked: None)
    assert await types(pool, queued_op.id) == ["operation.accepted", "operation.cancelled"]
    running = await queued(pool)
    lease = await claimed(pool)
    await cancel(pool, running.id, by="me", authorize=lambda locked: None)
    assert await types(pool, running.id) == ["operation.accepted", "operation.started"]
    await lease.finish(Status.CANCELLED, result={}, error_code="cancelled")
    assert (await types(pool, running.id))[-1] == "operation.cancelled"


async def test_sql_filters_agree_with_the_hubs(pool):
    rows = [("F1",), ("F2",), ("F1", "F2"), ()]
    for feeders in rows:
        async def check(conn, feeders=feeders):
            return frozenset(feeders)
        await submit(pool, NewOperation("load_shed", 0, {}), validate=check)
    await pool.execute("INSERT INTO events (type, principal, data) VALUES ('webhook.disabled', 'north', '{}'), "
                       "('webhook.disabled', 'south', '{}')")
    everything = [Event.from_row(r) for r in await pool.fetch(
        "SELECT e.*, coalesce(o.feeders, '{}') AS feeders FROM events e "
        "LEFT JOIN operations o ON o.id = e.operation_id")]
    filters = [EventFilter(area=frozenset({"F1"}), principal="north"),
               EventFilter(area=frozenset({"F1", "F2"}), feeders=frozenset({"F2"})),
               EventFilter(types=frozenset({"webhook.disabled"}), principal="south"),
               EventFilter(area=frozenset())]
    for where in filters:
        in_sql = [e.id for e in await events_after(pool, 0, limit=100, where=where)]
        assert in_sql == [e.id for e in sorted(everything, key=lambda e: e.id) if where.matches(e)], where


async def test_retention_purges_delivered_rows_bounded_per_run(pool):
    for _ in range(5):
        await queued(pool)
    await deliveries.ensure_cursor(pool)
    await deliveries.relay(pool, limit=100)
    await pool.execute("UPDATE events SET created_at = now() - interval '8 days'")
    removed = await purge(pool, retention_s=7 * 86400, limit=3)
    assert removed == (0, 3) and await pool.fetchval("SELECT count(*) FROM events") == 2
    assert await purge(pool, retention_s=7 * 86400, limit=3) == (0, 2)
    await queued(pool)                    # not relayed yet: kept whatever its age
    await pool.execute("UPDATE events SET created_at = now() - interval '8 days'")
    assert await purge(pool, retention_s=7 * 86400) == (0, 0)


async def test_rotating_the_master_key_moves_webhook_secrets(pool, tmp_path):
    old = ensure_master_key(tmp_path / "old.key")
    new = ensure_master_key(tmp_path / "new.key")
    created = await endpoints.create(await open_keyring(pool, old), endpoints.Owner("me", None),
                                     endpoints.Request("https://127.0.0.1:9/h", ("operation.accepted",)))
    await rewrap_all(pool, old, new)
    [sealed] = (await signing_secrets(pool, [created.endpoint.id]))[created.endpoint.id]
    assert unseal_secret(new, sealed).material == created.secret.material
