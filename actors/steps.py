"""Step programs: what a shard can do to one device, by name.

Each step takes a DeviceClient (adapters), the operation id, the task and the
shard's state for that device, and returns a DeviceResult. Steps speak in
profile roles, so one program drives a controllable load and a SunSpec
inverter alike. Commands carry absolute values, so a retried step changes
nothing the second time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from adapters import DeviceClient, DeviceFault, FaultCode, Role
from actors.curtail_writes import ENABLE, NORMAL_PCT, SETPOINT, TIMER, arm_sequence, clear_sequence
from actors.priority_lock import HIGH, NORMAL, PriorityLock
from actors.step_names import Step
from actors.tasks import DeviceResult, DeviceState, DeviceTask

MEASURED = Role.MEASURED_KW
SETTLE_POLL_S = 0.25

@dataclass
class DeviceCall:
    """Everything a step program gets for one device in one shard call."""

    client: DeviceClient
    op_id: str
    task: DeviceTask
    state: DeviceState
    lock: PriorityLock
    services: Any = None   # shard services a step may need (firmware source, ...)


@dataclass(frozen=True)
class StepSpec:
    program: Callable[[DeviceCall], Awaitable[DeviceResult]]
    priority: int | None  # None: the program takes the device lock itself, in pieces


def _has(client: DeviceClient, role: str) -> bool:
    return client.profile.has_role(role)


def auth_args(task: DeviceTask) -> dict:
    """The key for a critical write, when the device's profile authenticates them."""
    key = task.args.get("key")
    return {"key": key} if key is not None else {}


async def _arm(client: DeviceClient, task: DeviceTask, setpoint: int, timer: int) -> None:
    """The timer armed before (or with) the setpoint, the gate last: see ``curtail_writes``.
    A write whose answer is lost is settled by reading it back (``confirm``)."""
    await client.write_sequence(arm_sequence(client.profile, setpoint=setpoint, timer=timer),
                                confirm=True, **auth_args(task))


async def _clear(client: DeviceClient, task: DeviceTask) -> None:
    await client.write_sequence(clear_sequence(client.profile), confirm=True, **auth_args(task))


def _held(task: DeviceTask, state: DeviceState, op_id: str) -> DeviceResult | None:
    if state.held_by_other(op_id, time.time()):
        return DeviceResult.fault(task.device_id, FaultCode.DEVICE_HELD,
                                  f"device is held by operation {state.holder}")
    return None


async def survey(call: DeviceCall) -> DeviceResult:
    client, op_id, task, state = call.client, call.op_id, call.task, call.state
    roles = list(task.args.get("roles", (MEASURED,)))
    values = await client.read_many(roles)
    if MEASURED in values:
        state.last_kw = float(values[MEASURED])
    return DeviceResult(task.device_id, ok=True, values=dict(values))


async def curtail(call: DeviceCall) -> DeviceResult:
    client, op_id, task, state = call.client, call.op_id, call.task, call.state
    if held := _held(task, state, op_id):
        return held
    setpoint, timer = int(task.args["setpoint_pct"]), int(task.args[TIMER])
    try:
        await _arm(client, task, setpoint, timer)
    except DeviceFault as fault:
        if not fault.changed:  # refused, or settled as not applied: the device is as it was
            return DeviceResult(task.device_id, False, fault.code, fault.detail, {"untouched": True})
        state.hold(op_id, time.time() + timer)  # it may have taken: hold it, as if it had
        raise
    state.hold(op_id, time.time() + timer)
    result = await _verify(client, task, state, setpoint)
    if result.ok:
        result = await _settle(client, task, state, result)
    if not result.ok and await _release(client, task, state):  # a command that did not take
        result = DeviceResult(result.device_id, False, result.code, result.detail,
                              {**result.values, "released": True})
    return result


async def refresh(call: DeviceCall) -> DeviceResult:
    client, op_id, task, state = call.client, call.op_id, call.task, call.state
    """Re-arm the dead-man timer; re-apply the setpoint if the device reverted."""
    if held := _held(task, state, op_id):
        return held
    setpoint, timer = int(task.args["setpoint_pct"]), int(task.args[TIMER])
    if _has(client, TIMER):  # an unarmed profile (allow_unarmed) has nothing to re-arm
        await client.write_sequence([{TIMER: timer}], confirm=True, **auth_args(task))
    state.hold(op_id, time.time() + timer)
    roles = [SETPOINT, ENABLE] if _has(client, ENABLE) else [SETPOINT]
    current = await client.read_many(roles)
    if int(current[SETPOINT]) == setpoint and current.get(ENABLE, 1) == 1:
        return DeviceResult(task.device_id, ok=True, values={"reapplied": False})
    await _arm(client, task, setpoint, timer)
    result = await _verify(client, task, state, setpoint)
    return DeviceResult(result.device_id, result.ok, result.code, result.detail,
                        {**result.values, "reapplied": True})


async def restore(call: DeviceCall) -> DeviceResult:
    client, op_id, task, state = call.client, call.op_id, call.task, call.state
    if held := _held(task, state, op_id):
        return held
    await _clear(client, task)
    result = await _verify(client, task, state, NORMAL_PCT)
    if result.ok:
        state.release()
    return result


async def sweep(call: DeviceCall) -> DeviceResult:
    """Where the device stands now: its setpoint (and gate), its power, and until when
    this shard's hold (its dead-man timer, as last armed) keeps it curtailed."""
    client, task, state = call.client, call.task, call.state
    roles = [SETPOINT, MEASURED, ENABLE] if _has(client, ENABLE) else [SETPOINT, MEASURED]
    release_by = state.holder_until if state.holder == call.op_id else None
    try:
        values = await client.read_many(roles)
    except DeviceFault as fault:  # unreadable: say until when its timer may hold it
        return DeviceResult(task.device_id, False, fault.code, fault.detail, {"release_by": release_by})
    state.setpoint_pct, state.last_kw = int(values[SETPOINT]), float(values[MEASURED])
    gate_open = int(values[ENABLE]) == 1 if ENABLE in values else True
    normal = state.setpoint_pct >= NORMAL_PCT or not gate_open  # nothing limits the device
    if normal and state.holder == call.op_id:
        state.release()
    return DeviceResult(task.device_id, ok=True, values={
        "setpoint_pct": state.setpoint_pct, MEASURED: state.last_kw, "normal": normal,
        "release_by": None if normal else release_by})


async def _release(client: DeviceClient, task: DeviceTask, state: DeviceState) -> bool:
    """Best effort, True if done: if this fails too, the device's revert timer releases it."""
    try:
        await _clear(client, task)
    except DeviceFault:
        return False
    state.release()
    state.setpoint_pct = NORMAL_PCT
    return True


async def _verify(client: DeviceClient, task: DeviceTask, state: DeviceState, setpoint: int) -> DeviceResult:
    """Read back both the setpoint and the measured kW after a write (a follow-up read: the
    gateway serves it before the devices still waiting to be commanded)."""
    enable = _has(client, ENABLE)
    values = await client.read_many([SETPOINT, MEASURED, ENABLE] if enable else [SETPOINT, MEASURED],
                                    follow_up=True)
    state.setpoint_pct, state.last_kw = int(values[SETPOINT]), float(values[MEASURED])
    plain = {"setpoint_pct": state.setpoint_pct, MEASURED: state.last_kw}
    problem = None
    if state.setpoint_pct != setpoint:
        problem = f"setpoint reads back {state.setpoint_pct}, commanded {setpoint}"
    elif enable and int(values[ENABLE]) != int(setpoint < NORMAL_PCT):
        problem = f"limit enable reads back {values[ENABLE]}, commanded {int(setpoint < NORMAL_PCT)}"
    if problem:
        return DeviceResult(task.device_id, ok=False, code=FaultCode.VERIFY_MISMATCH, detail=problem, values=plain)
    return DeviceResult(task.device_id, ok=True, values=plain)


async def _settle(client: DeviceClient, task: DeviceTask, state: DeviceState,
                  result: DeviceResult) -> DeviceResult:
    """Wait (bounded by settle_s) for measured power to follow the command."""
    ceiling = task.args.get("expect_max_kw")
    if ceiling is None:
        return result
    deadline = time.monotonic() + float(task.args.get("settle_s", 0.0))
    measured = state.last_kw
    while measured > ceiling and time.monotonic() < deadline:
        await asyncio.sleep(SETTLE_POLL_S)
        measured = float(await client.read(MEASURED))
    state.last_kw = measured
    values = {**result.values, MEASURED: measured}
    if measured > ceiling:
        return DeviceResult(task.device_id, ok=False, code=FaultCode.VERIFY_MISMATCH, values=values,
                            detail=f"measured {measured:.2f} kW did not fall to {ceiling:.2f} kW; released")
    return DeviceResult(task.device_id, ok=True, values=values)


CURTAIL_STEPS: dict[Step, StepSpec] = {
    Step.SURVEY: StepSpec(survey, NORMAL),
    Step.CURTAIL: StepSpec(curtail, HIGH),
    Step.REFRESH: StepSpec(refresh, HIGH),
    Step.RESTORE: StepSpec(restore, HIGH),
    Step.SWEEP: StepSpec(sweep, NORMAL),
}
