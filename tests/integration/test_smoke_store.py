"""Store basics: migrations, submit, claim with fencing."""

from __future__ import annotations

import pytest

from gridjobs.errors import StaleLeaseError
from gridjobs.store import leases
from gridjobs.records import Outcome, phase_fields
from gridjobs.store.operations import (
    NewOperation, get_operation, get_operation_summary, list_operations, submit,
)


async def _noop(conn):
    return frozenset()  # no scope to check: the operation reaches no feeder


async def test_claim_then_stale_holder_is_fenced_out(pool):
    sub = await submit(pool, NewOperation("load_shed", 0, {"x": 1}), validate=_noop)
    first = await leases.claim_next(pool, owner="a", lease_s=0.01)
    assert first.id == sub.operation.id and first.fence == 1
    old = leases.Lease(pool, first, 0.01)
    await old.record([Outcome("d1", "running", "curtail", 0)])
    await pool.execute("SELECT pg_sleep(0.05)")
    second = await leases.claim_next(pool, owner="b", lease_s=30)
    assert second.id == first.id and second.fence == 2
    with pytest.raises(StaleLeaseError):
        await old.record([Outcome("d1", "failed", "curtail", 0, code="x")])
    with pytest.raises(StaleLeaseError):
        await old.finish("succeeded", result={})
    new = leases.Lease(pool, second, 30)
    await new.record([Outcome("d1", "succeeded", "curtailed", 0)])
    rows = await new.outcomes()
    assert [(r.device_id, r.state) for r in rows] == [("d1", "succeeded")]


async def test_claim_order_priority_then_age(pool):
    low = await submit(pool, NewOperation("load_shed", 0, {}), validate=_noop)
    high = await submit(pool, NewOperation("load_shed", 5, {}), validate=_noop)
    low2 = await submit(pool, NewOperation("load_shed", 0, {}), validate=_noop)
    order = [(await leases.claim_next(pool, owner="a", lease_s=30)).id for _ in range(3)]
    assert order == [high.operation.id, low.operation.id, low2.operation.id]
    assert await leases.claim_next(pool, owner="a", lease_s=30) is None


async def test_the_api_reads_a_summary_of_the_checkpoint(pool):
    """GET /v1/operations/{id} (and the lists) read the checkpoint cut to the phase fields:
    a shed's every survey reading and a rollout's device ids per wave stay out of a poll."""
    sub = await submit(pool, NewOperation("load_shed", 0, {}), validate=_noop)
    lease = leases.Lease(pool, await leases.claim_next(pool, owner="a", lease_s=30), 30)
    full = {"readings": {f"d{i}": {"measured_kw": 1.5} for i in range(500)}, "phase": "hold",
            "hold_until": 1234.5, "wave": 1, "waves": [["d1", "d2"], ["d3"]]}
    await lease.save_checkpoint(full)
    summary = await get_operation_summary(pool, sub.operation.id)
    assert summary.checkpoint == {"readings": {}, "phase": "hold", "hold_until": 1234.5, "wave": 1,
                                  "waves": [2, 1]}
    assert phase_fields(summary.checkpoint) == phase_fields(full)
    assert (await get_operation(pool, sub.operation.id)).checkpoint == full   # the runner's, whole
    listed = await list_operations(pool, kind=None, status=None, before=None, limit=5)
    assert [op.checkpoint for op in listed] == [summary.checkpoint]


async def test_a_large_record_is_written_in_parts_each_fenced(pool, monkeypatch):
    """More than RECORD_SPLIT_AT outcomes go in RECORD_PARTS statements at once: every
    outcome is written, device.failed events come for every failed device, one
    operation.progress event comes with the record, and a moved fence refuses every part."""
    monkeypatch.setattr(leases, "RECORD_SPLIT_AT", 10)
    sub = await submit(pool, NewOperation("load_shed", 0, {}), validate=_noop)
    lease = leases.Lease(pool, await leases.claim_next(pool, owner="a", lease_s=30), 30)
    op_id = sub.operation.id
    parts = []
    write_part = leases.Lease._record

    async def spy(self, part, *, progress):
        parts.append((len(part), progress))
        await write_part(self, part, progress=progress)
    monkeypatch.setattr(leases.Lease, "_record", spy)
    outcomes = [Outcome(f"d{i:02}", "failed" if i % 5 == 0 else "succeeded", "curtail", i,
                        code="device_timeout" if i % 5 == 0 else None) for i in range(25)]

    await lease.record(outcomes)

    assert sorted(parts) == [(12, False), (13, True)]
    rows = {o.device_id: o.state for o in await lease.outcomes()}
    assert rows == {o.device_id: o.state for o in outcomes}
    events = await pool.fetch("SELECT type, data FROM events WHERE operation_id = $1", op_id)
    failed = sorted(e["data"]["device_id"] for e in events if e["type"] == "device.failed")
    assert failed == [f"d{i:02}" for i in range(0, 25, 5)]
    assert [e["type"] for e in events].count("operation.progress") == 1

    await pool.execute("UPDATE operations SET fence = fence + 1 WHERE id = $1", op_id)
    with pytest.raises(StaleLeaseError):
        await lease.record([Outcome(o.device_id, "cancelled", "curtail", o.seq) for o in outcomes])
    assert {o.state for o in await lease.outcomes()} == {"succeeded", "failed"}
