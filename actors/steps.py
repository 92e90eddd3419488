"""Step programs: what a shard can do to one device, by name.

Each step takes a DeviceClient (adapters), the task and the shard's state for
that device, and returns a DeviceResult. Commands carry absolute values, so a
retried step changes nothing the second time.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable

from adapters import DeviceClient
from actors.tasks import DeviceResult, DeviceState, DeviceTask

SETPOINT = "curtail_setpoint_pct"
TIMER = "revert_timeout_s"
MEASURED = "measured_kw"
NORMAL_PCT = 100

Step = Callable[[DeviceClient, str, DeviceTask, DeviceState], Awaitable[DeviceResult]]


async def survey(client: DeviceClient, op_id: str, task: DeviceTask, state: DeviceState) -> DeviceResult:
    values = await client.read_many([SETPOINT, MEASURED])
    state.setpoint_pct, state.last_kw = int(values[SETPOINT]), float(values[MEASURED])
    return DeviceResult(task.device_id, ok=True, values=_plain(values))


def _held(task: DeviceTask, state: DeviceState, op_id: str) -> DeviceResult | None:
    if state.held_by_other(op_id, time.time()):
        return DeviceResult.fault(task.device_id, "device_held",
                                  f"device is held by operation {state.holder}")
    return None


async def curtail(client: DeviceClient, op_id: str, task: DeviceTask, state: DeviceState) -> DeviceResult:
    if held := _held(task, state, op_id):
        return held
    setpoint, timer = int(task.args["setpoint_pct"]), int(task.args["revert_timeout_s"])
    await client.write({SETPOINT: setpoint, TIMER: timer})
    state.hold(op_id, time.time() + timer)
    return await _verify(client, task, state, setpoint)


async def refresh(client: DeviceClient, op_id: str, task: DeviceTask, state: DeviceState) -> DeviceResult:
    """Re-arm the dead-man timer; re-apply the setpoint if the device reverted."""
    if held := _held(task, state, op_id):
        return held
    setpoint, timer = int(task.args["setpoint_pct"]), int(task.args["revert_timeout_s"])
    await client.write({TIMER: timer})
    state.hold(op_id, time.time() + timer)
    current = int(await client.read(SETPOINT))
    if current == setpoint:
        return DeviceResult(task.device_id, ok=True, values={"reapplied": False})
    await client.write({SETPOINT: setpoint, TIMER: timer})
    result = await _verify(client, task, state, setpoint)
    return DeviceResult(result.device_id, result.ok, result.code, result.detail,
                        {**result.values, "reapplied": True})


async def restore(client: DeviceClient, op_id: str, task: DeviceTask, state: DeviceState) -> DeviceResult:
    if held := _held(task, state, op_id):
        return held
    await client.write({SETPOINT: NORMAL_PCT, TIMER: 0})
    result = await _verify(client, task, state, NORMAL_PCT)
    if result.ok:
        state.release()
    return result


async def _verify(
    client: DeviceClient, task: DeviceTask, state: DeviceState, setpoint: int
) -> DeviceResult:
    """Read back both the setpoint and the measured kW after a write."""
    values = await client.read_many([SETPOINT, MEASURED])
    state.setpoint_pct, state.last_kw = int(values[SETPOINT]), float(values[MEASURED])
    plain = _plain(values)
    if state.setpoint_pct != setpoint:
        return DeviceResult(
            task.device_id, ok=False, code="verify_mismatch",
            detail=f"setpoint reads back {state.setpoint_pct}, commanded {setpoint}", values=plain,
        )
    return DeviceResult(task.device_id, ok=True, values=plain)


def _plain(values: dict) -> dict:
    return {("setpoint_pct" if k == SETPOINT else k): v for k, v in values.items()}


STEPS: dict[str, Step] = {
    "survey": survey,
    "curtail": curtail,
    "refresh": refresh,
    "restore": restore,
}
