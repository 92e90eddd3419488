"""The three runners driven through the test seam (gridjobs.testing): in-memory
lease, registry, key store and firmware, shards in this process, real Modbus/TCP
on loopback against a simulated fleet. No Postgres, no Ray.

Each test covers a decision the end-to-end tests only cover from the outside:
replacing a failed device, going deeper, aborting at the threshold, rolling back.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gridjobs.der.strategy import run_der_curtailment
from gridjobs.errors import StaleLeaseError
from gridjobs.key_rotation.runner import run_key_rotation
from gridjobs.load_shed.planner import Candidate, plan_shed
from gridjobs.load_shed.strategy import run_load_shed
from gridjobs.rollout.runner import run_firmware_rollout
from gridjobs.states import OutcomeState, Status
from gridjobs.testing import (
    InMemoryFirmware, InMemoryKeyStore, InMemoryLease, devices_from_inventory, local_ports, new_operation,
    run_context,
)
from simulators import Fault, Fleet
from tests.support import serving, wait_until

SETPOINT = "curtail_setpoint_pct"
TIMER = "revert_timeout_s"


async def run(runner, kind: str, params: dict, fleet: Fleet, **ports):
    """Run one operation to its end; return (finish, outcomes by device, lease)."""
    async with local_ports(devices_from_inventory(fleet.inventory()), **ports) as run_ports:
        ctx = run_context(new_operation(kind, params), run_ports)
        finish = await runner(ctx)
    return finish, {o.device_id: o for o in await ctx.lease.outcomes()}, ctx.lease


def shed_params(target_kw: float, **extra) -> dict:
    return {"target_kw": target_kw, "scope": {"feeders": ["F1"]}, "hold_s": 0,
            "revert_timeout_s": 30, "verify_settle_s": 2, **extra}


@pytest.fixture
async def loads():
    async with serving(Fleet.build(devices=12, gateways=1, host="127.0.0.1", port=0, seed=3,
                                   feeders=1)) as fleet:
        yield fleet


async def test_shed_replaces_a_device_that_fails_its_command(loads):
    readings = {d.spec.id: d.measured_kw() for d in loads.devices}
    candidates = [Candidate(d.spec.id, d.spec.shed_priority, d.spec.protected, readings[d.spec.id])
                  for d in loads.devices]
    target = round(sum(readings[d.spec.id] for d in loads.devices if not d.spec.protected) * 0.3, 1)
    planned = plan_shed(candidates, target_kw=target).device_ids
    first = planned[0]
    loads.inject(first, Fault.exception(after_requests=1))  # the survey answers, the command is refused
    finish, outcomes, _ = await run(run_load_shed, "load_shed", shed_params(target), loads)
    assert finish.status == Status.SUCCEEDED, finish
    assert (outcomes[first].state, outcomes[first].code) == (OutcomeState.FAILED, "modbus_exception")
    shed = {d for d, o in outcomes.items() if o.data.get("commanded")}
    assert first not in shed and shed - set(planned), "a device outside the plan replaced it"
    assert finish.result["achieved_kw"] >= target and finish.result["devices_failed"] == 1
    assert all(loads.device(d).counters.writes.get(SETPOINT, 0) == 2 for d in shed)  # curtail, restore
    assert loads.device(first).setpoint_pct == 100


async def test_a_lost_answer_is_retried_then_reported_not_assumed(loads):
    readings = {d.spec.id: d.measured_kw() for d in loads.devices}
    first = plan_shed([Candidate(d.spec.id, d.spec.shed_priority, d.spec.protected, readings[d.spec.id])
                       for d in loads.devices], target_kw=1.0).device_ids[0]
    loads.inject(first, Fault.drop(after_requests=1))  # the survey answers; then every request is dropped
    finish, outcomes, _ = await run(run_load_shed, "load_shed", shed_params(1.0), loads)
    assert outcomes[first].attempts == 2, outcomes[first]  # the retry rule: one more attempt
    assert outcomes[first].code == "outcome_unknown"  # its writes' answers were lost, and it cannot be read
    assert finish.result["achieved_kw"] >= 1.0  # a replacement met the target, measured
    left = {e["device_id"]: e for e in finish.result["left_curtailed"]}
    assert list(left) == [first] and left[first]["reads"].startswith("unreadable")
    assert finish.status == Status.FAILED and finish.error_code == "left_curtailed"  # not plainly succeeded


def inverters() -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 5, "gateways": 1, "feeders": ["F1"]},
        "group": [{"name": "pv", "profile": "sunspec_der", "count": 4, "rated_kw": 40.0,
                   "load_factor": 0.8}],
    }, host="127.0.0.1", port=0)


def limits(outcomes) -> dict[str, int]:
    return {d: o.data["setpoint_pct"] for d, o in outcomes.items() if o.data.get("commanded")}


async def test_der_goes_deeper_when_an_inverter_fails():
    params = {"reduce_kw": 40, "scope": {"feeders": ["F1"]}, "hold_s": 0, "revert_timeout_s": 30,
              "verify_settle_s": 3}
    async with serving(inverters()) as fleet:
        healthy, planned, _ = await run(run_der_curtailment, "der_curtailment", params, fleet)
    assert healthy.status == Status.SUCCEEDED and len(set(limits(planned).values())) == 1
    async with serving(inverters()) as fleet:
        broken = sorted(d.spec.id for d in fleet.devices)[0]
        fleet.inject(broken, Fault.exception(after_requests=9))  # discovery and survey pass; the limit fails
        finish, outcomes, _ = await run(run_der_curtailment, "der_curtailment", params, fleet)
    assert finish.status == Status.SUCCEEDED, finish
    assert outcomes[broken].state == OutcomeState.FAILED
    deeper = limits(outcomes)
    assert broken not in deeper and len(deeper) == 3
    assert max(deeper.values()) < min(limits(planned).values()), "the others went deeper, pro rata"
    assert finish.result["achieved_kw"] >= 40


def rtu_fleet(count: int) -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 8, "gateways": 1, "feeders": ["F1"]},
        "group": [{"name": "rtu", "profile": "rtu", "count": count, "rated_kw": [5.0, 20.0],
                   "firmware_version": "4.2.0", "reboot_s": 0.1, "confirm_window_s": 3.0}],
    }, host="127.0.0.1", port=0)


def rollout_params(firmware_id, **extra) -> dict:
    return {"firmware_id": str(firmware_id), "scope": {"feeders": ["F1"]}, "device_timeout_s": 10,
            **extra}


async def test_rollout_aborts_at_the_threshold_and_rolls_back_failed_boots():
    firmware = InMemoryFirmware()
    image = os.urandom(3000)
    artifact = firmware.add(image, version="4.2.1", profile="rtu")
    async with serving(rtu_fleet(10)) as fleet:
        ids = sorted(d.spec.id for d in fleet.devices)
        failing = set(ids[1:4])  # the canary passes; the next wave fails 3 of 3
        for device_id in failing:
            fleet.inject(device_id, Fault.failed_boot())
        params = rollout_params(artifact.id, waves=[1, 4, "100%"], max_parallel=3,
                                failure_threshold_pct=20, min_executed=2)
        finish, outcomes, _ = await run(run_firmware_rollout, "firmware_rollout", params, fleet,
                                        firmware=firmware)
        assert finish.status == Status.FAILED and finish.error_code == "abort_threshold", finish
        for device_id in failing & set(outcomes):
            if outcomes[device_id].state == OutcomeState.FAILED:
                assert outcomes[device_id].code == "rolled_back"
                assert fleet.device(device_id).firmware_version == "4.2.0"  # back on the old bank
        never = [d for d in ids if outcomes[d].step == "queued"]
        assert never and all(outcomes[d].state == OutcomeState.CANCELLED for d in never)
        assert all(fleet.device(d).counters.fw_bytes_received == 0 for d in never)
        assert fleet.device(ids[0]).firmware_version == "4.2.1"


async def test_rollout_updates_every_device_once():
    firmware = InMemoryFirmware()
    image = os.urandom(2000)
    artifact = firmware.add(image, version="4.2.1", profile="rtu")
    async with serving(rtu_fleet(4)) as fleet:
        finish, outcomes, _ = await run(run_firmware_rollout, "firmware_rollout",
                                        rollout_params(artifact.id, waves=[1, "100%"]), fleet,
                                        firmware=firmware)
        assert finish.status == Status.SUCCEEDED and finish.result["updated"] == 4, finish
        for device in fleet.devices:
            assert device.firmware_version == "4.2.1" and device.counters.fw_activations == 1
            assert device.counters.fw_bytes_received == len(image)


def secure_fleet(count: int) -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 12, "gateways": 1, "feeders": ["F1"]},
        "group": [{"name": "sec", "profile": "secure_load", "count": count, "rated_kw": [5.0, 20.0]}],
    }, host="127.0.0.1", port=0)


def provisioned(fleet: Fleet) -> InMemoryKeyStore:
    store = InMemoryKeyStore()
    for device in fleet.devices:
        store.keys[(device.spec.id, device.auth.active.version)] = ("active", device.auth.active.secret)
    return store


async def test_rotation_rolls_back_a_device_that_refuses_a_command():
    async with serving(secure_fleet(4)) as fleet:
        store = provisioned(fleet)
        wrong = sorted(d.spec.id for d in fleet.devices)[0]
        store.keys[(wrong, 1)] = ("active", os.urandom(32))  # the store's key is not the device's
        params = {"scope": {"feeders": ["F1"]}, "failure_threshold_pct": 50}
        finish, outcomes, _ = await run(run_key_rotation, "key_rotation", params, fleet, key_store=store)
    assert finish.status == Status.FAILED and finish.error_code == "devices_failed", finish
    assert (outcomes[wrong].state, outcomes[wrong].step) == (OutcomeState.FAILED, "rollback")
    assert "stage failed: auth_rejected" in outcomes[wrong].detail  # at once, not after the rounds ran out
    assert [e.step for e in store.audit_log if e.device_id == wrong] == ["generate", "stage", "rollback"]
    assert store.state(wrong, 2) == "failed" and store.state(wrong, 1) == "active"
    for device in fleet.devices:
        if device.spec.id != wrong:
            assert outcomes[device.spec.id].state == OutcomeState.SUCCEEDED
            assert device.accepts(store.keys[(device.spec.id, 2)][1])
            assert store.state(device.spec.id, 1) == "retired"
    steps = {e.step for e in store.audit_log}
    assert {"generate", "stage", "verify", "activate", "confirm", "retire", "rollback"} <= steps


async def test_rotation_survives_a_lost_answer():
    async with serving(secure_fleet(2)) as fleet:
        store = provisioned(fleet)
        dropped = sorted(d.spec.id for d in fleet.devices)[0]
        fleet.inject(dropped, Fault.drop_after_auth_command(op=3))  # ACTIVATE applied, answer lost
        finish, outcomes, _ = await run(run_key_rotation, "key_rotation",
                                        {"scope": {"feeders": ["F1"]}}, fleet, key_store=store)
        assert finish.status == Status.SUCCEEDED, finish
        assert fleet.device(dropped).accepts(store.keys[(dropped, 2)][1])


async def test_a_runner_whose_lease_was_taken_over_commands_nothing(loads):
    async with local_ports(devices_from_inventory(loads.inventory())) as ports:
        ctx = run_context(new_operation("load_shed", shed_params(5.0)), ports)
        ctx.lease.take_over()  # another process claimed it: every fenced write now fails
        with pytest.raises(StaleLeaseError):
            await run_load_shed(ctx)
    assert all(not d.counters.writes for d in loads.devices)


async def test_a_manual_rotation_waits_for_approval_before_its_first_device():
    async with serving(secure_fleet(2)) as fleet:
        store = provisioned(fleet)
        async with local_ports(devices_from_inventory(fleet.inventory()), key_store=store) as ports:
            ctx = run_context(new_operation("key_rotation", {"scope": {"feeders": ["F1"]},
                                                             "approval": "manual"}), ports)
            running = asyncio.ensure_future(run_key_rotation(ctx))
            async with asyncio.timeout(10):
                while ctx.lease.status != Status.PAUSED:
                    await asyncio.sleep(0.02)
            assert not store.audit_log and all(d.auth.active.version == 1 for d in fleet.devices)
            ctx.resume.set()  # another principal resumed it (the API enforces who)
            finish = await running
        assert finish.status == Status.SUCCEEDED and finish.result["rotated"] == 2
        assert ctx.lease.checkpoint["approved"] is True


async def test_a_hold_that_ended_while_nothing_ran_it_curtails_no_device_again(loads):
    """Found by the chaos suite: a run resumed after its hold had ended (the process was
    down longer) re-armed the hold first, re-applying the curtailment to every device
    whose dead-man timer had released it, and restored them a moment later."""
    op = new_operation("load_shed", shed_params(5.0, hold_s=60, revert_timeout_s=3))
    lease, devices = InMemoryLease(op), devices_from_inventory(loads.inventory())
    async with local_ports(devices) as ports:  # the first run dies mid-hold
        first = asyncio.create_task(run_load_shed(run_context(op, ports, lease=lease)))
        await wait_until(lambda: _now(lease.checkpoint.get("phase") == "hold"), timeout_s=60)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
    shed = [d for d in loads.devices if d.setpoint_pct < 100]
    await wait_until(lambda: _now(all(d.setpoint_pct == 100 for d in shed)), timeout_s=30)  # timers release them
    marks = {d.id: len(d.write_log) for d in loads.devices}
    async with local_ports(devices) as ports:  # resumed once the hold is over
        finish = await run_load_shed(run_context(op, ports, lease=lease, clock=lambda: time.time() + 120))
    assert shed and finish.status == Status.SUCCEEDED, finish
    again = [d.id for d in loads.devices
             if any(r.values.get(SETPOINT, 100) < 100 for r in list(d.write_log)[marks[d.id]:])]
    assert again == [] and all(d.setpoint_pct == 100 for d in loads.devices)


def rearms(device) -> int:
    """Writes that re-armed the device's dead-man timer alone (a hold's refresh)."""
    return sum(1 for r in device.write_log if r.roles == (TIMER,) and r.values[TIMER] > 0)


def ever_curtailed(fleet) -> list:
    return [d for d in fleet.devices if any(r.values.get(SETPOINT, 100) < 100 for r in d.write_log)]


async def test_a_fresh_hold_rearms_a_third_of_a_timeout_after_the_survey_not_at_once(loads):
    """The timers the curtail armed a moment ago are not re-armed as the hold begins:
    the first refresh is due a third of the timeout (here 10 s) after the survey, after
    this 1.5 s hold has ended. Before, every hold began with one re-arm per device."""
    finish, _, _ = await run(run_load_shed, "load_shed", shed_params(5.0, hold_s=1.5), loads)
    curtailed = ever_curtailed(loads)
    assert finish.status == Status.SUCCEEDED and curtailed, finish
    assert [rearms(d) for d in curtailed] == [0] * len(curtailed)


async def test_a_hold_rearms_every_third_of_the_timeout(loads):
    """revert_timeout_s 3: re-armed about once a second through a 3.5 s hold (the first
    a second after the survey), so no device's own timer releases it meanwhile, and not
    again once the hold has ended."""
    finish, _, _ = await run(run_load_shed, "load_shed", shed_params(5.0, hold_s=3.5, revert_timeout_s=3),
                             loads)
    curtailed = ever_curtailed(loads)
    assert finish.status == Status.SUCCEEDED and curtailed, finish
    assert all(1 <= rearms(d) <= 4 for d in curtailed), [rearms(d) for d in curtailed]
    assert all(d.counters.timer_releases == 0 for d in curtailed)


async def test_a_resumed_hold_rearms_at_once(loads):
    """Its timers were armed by an earlier owner at a time this run does not know: it
    re-arms every curtailed device before it waits at all."""
    op = new_operation("load_shed", shed_params(5.0, hold_s=30, revert_timeout_s=30))
    lease, devices = InMemoryLease(op), devices_from_inventory(loads.inventory())
    async with local_ports(devices) as ports:  # the first run dies as the hold begins
        first = asyncio.create_task(run_load_shed(run_context(op, ports, lease=lease)))
        await wait_until(lambda: _now(lease.checkpoint.get("phase") == "hold"), timeout_s=60)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
    curtailed = [d for d in loads.devices if d.setpoint_pct < 100]
    assert curtailed and all(rearms(d) == 0 for d in curtailed)
    async with local_ports(devices) as ports:
        second = asyncio.create_task(run_load_shed(run_context(op, ports, lease=lease)))
        try:
            await wait_until(lambda: _now(all(rearms(d) == 1 for d in curtailed)), timeout_s=20)
        finally:
            second.cancel()
            await asyncio.gather(second, return_exceptions=True)


async def _now(value: bool) -> bool:
    return value
