"""Key rotation step programs: read a device's key slots, send one key command.

The keys arrive as adapters.AuthKey values, whose repr never shows the
secret; nothing here logs or returns key material.
"""

from __future__ import annotations

from actors.priority_lock import HIGH, NORMAL
from actors.step_names import Step
from actors.steps import DeviceCall, StepSpec
from actors.tasks import DeviceResult


async def key_slots(call: DeviceCall) -> DeviceResult:
    slots = await call.client.key_slots()
    return DeviceResult(call.task.device_id, ok=True, values=slots.as_values())


async def key_command(call: DeviceCall) -> DeviceResult:
    args = call.task.args
    await call.client.auth_command(int(args["command"]), key=args["key"],
                                   version=int(args["version"]), arg=args.get("arg", b""))
    return await key_slots(call)


KEY_STEPS: dict[Step, StepSpec] = {
    Step.KEY_SLOTS: StepSpec(key_slots, NORMAL),
    Step.KEY_COMMAND: StepSpec(key_command, HIGH),
}
