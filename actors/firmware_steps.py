"""Firmware step programs: precheck, transfer, verify, activate, confirm.

Each is safe to repeat. The transfer resumes from the offset both the store
and the device agree on, and takes the device lock one chunk at a time at low
priority, so a curtailment for the same device waits at most one chunk.
"""

from __future__ import annotations

import asyncio
import time

from adapters import DeviceFault, FaultCode, FirmwareState, Role
from actors.priority_lock import LOW, NORMAL
from actors.step_names import Step
from actors.steps import DeviceCall, StepSpec, auth_args
from actors.tasks import DeviceResult

VERSION, STATE, BANK = Role.FIRMWARE_VERSION, Role.FW_STATE, Role.FW_ACTIVE_BANK
SIZE, IMAGE_VERSION = Role.FW_IMAGE_SIZE, Role.FW_IMAGE_VERSION
STAGED, CRC = Role.FW_STAGED_BYTES, Role.FW_STAGED_CRC
OFFSET, LENGTH, DATA = Role.FW_CHUNK_OFFSET, Role.FW_CHUNK_LEN, Role.FW_CHUNK_DATA
ACTIVATE, CONFIRM = Role.FW_ACTIVATE, Role.FW_CONFIRM
BOOTED = frozenset({FirmwareState.PENDING_CONFIRM, FirmwareState.CONFIRMED})
CHUNK_BYTES = 240
REBOOT_POLL_S = 0.25


async def precheck(call: DeviceCall) -> DeviceResult:
    values = await call.client.read_many([VERSION, STATE, BANK, SIZE, IMAGE_VERSION, STAGED])
    return DeviceResult(call.task.device_id, ok=True, values=dict(values))


async def transfer(call: DeviceCall) -> DeviceResult:
    args, client = call.task.args, call.client
    artifact, size, version = str(args["artifact_id"]), int(args["size"]), str(args["version"])
    firmware = call.services.firmware
    declared = await client.read_many([SIZE, IMAGE_VERSION, STAGED])
    staged = int(declared[STAGED])
    if (int(declared[SIZE]), declared[IMAGE_VERSION]) != (size, version):
        await client.write({SIZE: size, IMAGE_VERSION: version})  # resets the inactive bank
        staged = 0
    persisted = await firmware.offset(call.op_id, call.task.device_id, artifact)
    start = 0 if args.get("from_zero") else min(persisted, staged)
    start -= start % CHUNK_BYTES
    for offset in range(start, size, CHUNK_BYTES):
        data = await firmware.read(artifact, offset, min(CHUNK_BYTES, size - offset))
        async with call.lock.hold(LOW):  # a shed for this device goes first
            await client.write({OFFSET: offset, LENGTH: len(data), DATA: data})
        await firmware.save_offset(call.op_id, call.task.device_id, artifact, offset + len(data))
    return DeviceResult(call.task.device_id, ok=True,
                        values={"resumed_from": start, "offset": size, "bytes_sent": size - start})


async def verify(call: DeviceCall) -> DeviceResult:
    values = await call.client.read_many([STAGED, CRC])
    size, crc = int(call.task.args["size"]), int(call.task.args["crc32"])
    plain = {"staged_bytes": int(values[STAGED]), "staged_crc": int(values[CRC])}
    if plain["staged_bytes"] != size or plain["staged_crc"] != crc:
        return DeviceResult(call.task.device_id, ok=False, code=FaultCode.CRC_MISMATCH, values=plain,
                            detail=f"device staged {plain['staged_bytes']} bytes with CRC32 "
                                   f"{plain['staged_crc']:08x}; the image is {size} bytes, {crc:08x}")
    return DeviceResult(call.task.device_id, ok=True, values=plain)


async def activate(call: DeviceCall) -> DeviceResult:
    """Activate once: a device already running the new image is not activated again."""
    values = await call.client.read_many([VERSION, STATE])
    if values[VERSION] == call.task.args["version"] and int(values[STATE]) in BOOTED:
        return DeviceResult(call.task.device_id, ok=True, values={"already_active": True})
    try:
        await call.client.write({ACTIVATE: 1}, **auth_args(call.task))
    except DeviceFault as fault:
        # Its answer lost (it may have rebooted before answering): the confirm step
        # settles it from what the device then reports, it does not assume.
        if not fault.answer_lost:
            raise
        return DeviceResult(call.task.device_id, ok=True, values={"already_active": False,
                                                                  "answer_lost": True})
    return DeviceResult(call.task.device_id, ok=True, values={"already_active": False})


async def confirm(call: DeviceCall) -> DeviceResult:
    """Wait for the reboot, then confirm the new version (bounded by deadline_s).

    Every answer is settled by what the device reports next: a confirm whose
    answer was lost is read back on the next poll, never assumed.
    """
    target, device_id = call.task.args["version"], call.task.device_id
    deadline = time.monotonic() + float(call.task.args["deadline_s"])
    while time.monotonic() < deadline:
        try:
            if (result := await _settle_boot(call, target)) is not None:
                return result
        except DeviceFault as fault:
            if not fault.answer_lost:
                raise
        await asyncio.sleep(REBOOT_POLL_S)
    return DeviceResult.fault(device_id, FaultCode.DEVICE_TIMEOUT,
                              f"no confirmed boot of {target} within {call.task.args['deadline_s']} s")


async def _settle_boot(call: DeviceCall, target: str) -> DeviceResult | None:
    """The verdict, once the device has booted; None while it is still rebooting."""
    values = await call.client.read_many([VERSION, STATE])
    device_id, state, version = call.task.device_id, int(values[STATE]), values[VERSION]
    if version == target and state == FirmwareState.PENDING_CONFIRM:
        await call.client.write({CONFIRM: 1})
        state = int(await call.client.read(STATE))
    if version == target and state == FirmwareState.CONFIRMED:
        return DeviceResult(device_id, ok=True, values={"version": version})
    if state == FirmwareState.ROLLED_BACK:
        return DeviceResult(device_id, ok=False, code=FaultCode.ROLLED_BACK, values={"version": version},
                            detail=f"the new image did not boot; the device runs {version}")
    return None  # still booting


FIRMWARE_STEPS: dict[Step, StepSpec] = {
    Step.FW_PRECHECK: StepSpec(precheck, NORMAL),
    Step.FW_TRANSFER: StepSpec(transfer, None),   # locks per chunk
    Step.FW_VERIFY: StepSpec(verify, NORMAL),
    Step.FW_ACTIVATE: StepSpec(activate, NORMAL),
    Step.FW_CONFIRM: StepSpec(confirm, None),     # polls through the reboot
}
