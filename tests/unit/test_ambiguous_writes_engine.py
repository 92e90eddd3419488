"""A write whose answer is lost may have been applied: the curtailment engine
settles it on the device, counts what the device measures, restores everything
a command may have reached, and reports whatever is not back.

Driven through the test seam against a simulated fleet over real Modbus/TCP
(request timeout 1.0 s), as a slow field network would behave.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters import Role
from gridjobs.load_shed.strategy import run_load_shed
from gridjobs.states import OutcomeState, Status
from gridjobs.testing import devices_from_inventory, local_ports, new_operation, run_context
from simulators import Fault, Fleet
from tests.support import quiet_loads, serving

TIMEOUT_S = 1.0
HOLD_S = 2.0


def largest(fleet: Fleet) -> str:
    return max(fleet.devices, key=lambda d: (d.measured_kw(), d.spec.id)).spec.id


async def shed_with(fleet: Fleet, *, target_kw: float):
    """Run a shed; while it holds, measure the reduction on the simulated devices."""
    baseline = {d.spec.id: d.measured_kw() for d in fleet.devices}
    params = {"target_kw": target_kw, "scope": {"feeders": ["F1"]}, "hold_s": HOLD_S,
              "revert_timeout_s": 30, "verify_settle_s": 1}
    async with local_ports(devices_from_inventory(fleet.inventory()), request_timeout_s=TIMEOUT_S) as ports:
        ctx = run_context(new_operation("load_shed", params), ports)
        run = asyncio.ensure_future(run_load_shed(ctx))
        async with asyncio.timeout(60):
            while ctx.checkpoint.get("phase") != "hold":
                await asyncio.sleep(0.05)
        measured = sum(baseline[d.spec.id] - d.measured_kw() for d in fleet.devices)
        finish = await run
    return finish, {o.device_id: o for o in await ctx.lease.outcomes()}, measured


@pytest.mark.parametrize("fault", [
    Fault.late_answer(delay_s=1.3, roles=(Role.CURTAIL_SETPOINT_PCT,)),   # applied, answered too late
    Fault.drop_after_apply(roles=(Role.CURTAIL_SETPOINT_PCT,)),          # applied, connection dropped
    Fault.late_answer(delay_s=1.3, roles=(Role.REVERT_TIMEOUT_S,)),      # the timer's answer lost
    Fault.drop_after_apply(roles=(Role.REVERT_TIMEOUT_S,), times=1),
], ids=["late-setpoint", "drop-setpoint", "late-timer", "drop-timer-once"])
async def test_an_applied_write_whose_answer_was_lost_counts_as_applied(fault):
    async with serving(quiet_loads()) as fleet:
        ambiguous = largest(fleet)
        fleet.inject(ambiguous, fault)
        finish, outcomes, measured = await shed_with(fleet, target_kw=15.0)
        assert finish.status == Status.SUCCEEDED, finish
        assert outcomes[ambiguous].state == OutcomeState.SUCCEEDED  # settled by reading it back
        assert finish.result["achieved_kw"] == pytest.approx(measured, abs=0.01)  # what the devices measured
        assert finish.result["left_curtailed"] == []
        assert all(d.setpoint_pct == 100 for d in fleet.devices)  # every device back to normal
        assert fleet.device(ambiguous).counters.writes.get(Role.CURTAIL_SETPOINT_PCT) == 2  # once each way
