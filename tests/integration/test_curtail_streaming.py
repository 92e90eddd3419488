"""A curtailment records its results as the shards report them, never before its intents.

Driven through the test seam against a simulated fleet over real Modbus/TCP: two
gateways, one of them slowed by a device that answers late, so the other
gateway's devices are done (and recorded) while it is still being curtailed.
"""

from __future__ import annotations

import asyncio
from typing import Sequence

from gridjobs.load_shed.strategy import run_load_shed
from gridjobs.records import Outcome
from gridjobs.states import OutcomeState, Status
from gridjobs.testing import InMemoryLease, devices_from_inventory, local_ports, new_operation, run_context
from simulators import Fault, Fleet
from tests.support import quiet_loads, serving

SLOW_S = 0.4   # per request of the slow device, well inside the 1 s request timeout


class RecordingLease(InMemoryLease):
    """Keeps every non-empty `record` call's (device, state, step), in the order they end.
    The curtail's intents can be made slow to write; `overlaps` counts the other records
    that began while they were being written."""

    def __init__(self, *args, slow_intents_s: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[tuple[str, str, str]]] = []
        self.overlaps = 0
        self._slow_intents_s = slow_intents_s
        self._writing_intents = False

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return await super().record(outcomes)
        intents = all(o.state == OutcomeState.RUNNING and o.step == "curtail" for o in outcomes)
        if self._writing_intents:
            self.overlaps += 1
        if intents:
            self._writing_intents = True
            try:
                await asyncio.sleep(self._slow_intents_s)
            finally:
                self._writing_intents = False
        await super().record(outcomes)
        self.calls.append([(o.device_id, o.state, o.step) for o in outcomes])


async def shed(fleet: Fleet, lease_options: dict) -> tuple[RecordingLease, object]:
    params = {"target_kw": 10_000.0, "scope": {"feeders": ["F1"]}, "hold_s": 0,
              "revert_timeout_s": 30, "verify_settle_s": 1}
    operation = new_operation("load_shed", params)
    lease = RecordingLease(operation, **lease_options)
    async with local_ports(devices_from_inventory(fleet.inventory()), shards=1) as ports:
        ctx = run_context(operation, ports, lease=lease)
        async with asyncio.timeout(60):
            finish = await run_load_shed(ctx)
    return lease, finish


def curtail_records(lease: RecordingLease) -> list[list[tuple[str, str, str]]]:
    """The record calls of the curtail round: its intents, then its results."""
    first = next(i for i, call in enumerate(lease.calls) if call and call[0][2] == "curtail"
                 and call[0][1] == OutcomeState.RUNNING)
    calls = []
    for call in lease.calls[first:]:
        if call[0][2] not in ("curtail", "curtailed"):
            break   # the restore's
        calls.append(call)
    return calls


async def test_results_are_recorded_as_they_come_and_the_slow_gateway_last(monkeypatch):
    monkeypatch.setattr("actors.shard.STREAM_EVERY_S", 0.05)
    async with serving(quiet_loads(12, gateways=2, seed=5)) as fleet:
        slow = fleet.devices[0].spec.id
        slow_gateway = fleet.devices[0].spec.gateway
        fleet.inject(slow, Fault.latency(min_s=SLOW_S, max_s=SLOW_S))
        lease, finish = await shed(fleet, {})
    assert finish.status in (Status.SUCCEEDED, Status.FAILED), finish   # the target is out of reach
    intents, *results = curtail_records(lease)
    assert {state for _, state, _ in intents} == {OutcomeState.RUNNING}
    assert len(results) >= 2, lease.calls   # more than one chunk
    assert sorted(d for call in results for d, _, _ in call) == sorted(d for d, _, _ in intents)
    # The slow device holds up its own gateway (a session has one request on the wire), so
    # the last record is of that gateway's devices; the other gateway's are all recorded
    # before it, and the slow device after the first record.
    mates = {d.spec.id for d in fleet.devices if d.spec.gateway == slow_gateway}
    assert {d for d, _, _ in results[-1]} <= mates
    assert slow not in {d for d, _, _ in results[0]}
    others = {d.spec.id for d in fleet.devices if d.spec.gateway != slow_gateway}
    assert others <= {d for call in results[:-1] for d, _, _ in call}
    assert all(state == OutcomeState.SUCCEEDED for call in results for _, state, _ in call)


async def test_no_result_is_recorded_before_the_intents(monkeypatch):
    monkeypatch.setattr("actors.shard.STREAM_EVERY_S", 0.05)
    async with serving(quiet_loads(6, gateways=2, seed=5)) as fleet:
        # The intents' write outlasts the curtail of the whole fleet: the results wait for it.
        lease, finish = await shed(fleet, {"slow_intents_s": 0.5})
    intents, *results = curtail_records(lease)
    assert lease.overlaps == 0
    assert {state for _, state, _ in intents} == {OutcomeState.RUNNING}
    assert sorted(d for call in results for d, _, _ in call) == sorted(d for d, _, _ in intents)
    assert all(state == OutcomeState.SUCCEEDED for call in results for _, state, _ in call)
