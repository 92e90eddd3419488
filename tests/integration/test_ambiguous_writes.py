"""Ambiguous writes over real Modbus/TCP: the device applies a write whose answer the client never gets.

Clients use the 1.0 s request timeout the shards use. A ``late_answer`` fault
answers after 1.3 s (the client has timed out), a ``drop_after_apply`` fault
closes the connection: either way a read-back shows the value applied, and the
device's write log shows the write.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters import AuthKey, DeviceClient, DeviceFault, FaultCode, KeyOp, PendingState, SessionPool, load_profile
from adapters import wrap_key
from simulators import APPLY_FAULTS, Fault, FaultKind, FirmwareState, Fleet

REQUEST_TIMEOUT_S = 1.0
REBOOT_S = 0.2
FLEET = {
    "fleet": {"seed": 5, "sample_interval_s": 0, "feeders": 1},
    "group": [
        {"name": "load", "profile": "controllable_load", "count": 1},
        {"name": "pv", "profile": "sunspec_der", "count": 1, "rated_kw": 20.0},
        {"name": "fc", "profile": "feeder_controller", "count": 1},
        {"name": "rtu", "profile": "rtu", "count": 1, "reboot_s": REBOOT_S},
        {"name": "secure", "profile": "secure_load", "count": 1},
    ],
}
EXPECTED = {FaultKind.LATE_ANSWER: FaultCode.DEVICE_TIMEOUT, FaultKind.DROP_AFTER_APPLY: FaultCode.CONNECTION_FAILED}
# Every write role of a load and of an inverter, and a feeder controller's breaker, with a value to write.
WRITES = [
    ("load-0001", "curtail_setpoint_pct", 40),
    ("load-0001", "revert_timeout_s", 90),
    ("pv-0001", "curtail_setpoint_pct", 40),
    ("pv-0001", "revert_timeout_s", 90),
    ("pv-0001", "curtail_enable", 1),
    ("pv-0001", "max_kw", 10.0),
    ("pv-0001", "connected", 0),
    ("fc-0001", "breaker_closed", 0),
]


@pytest.fixture
async def fleet():
    fleet = Fleet.from_spec_document(FLEET, port=0)
    await fleet.start()
    yield fleet
    await fleet.stop()  # cancels a late answer still waiting (the no_leftovers fixture checks)


@pytest.fixture
async def sessions():
    pool = SessionPool(timeout_s=REQUEST_TIMEOUT_S, backoff_initial_s=0.02, backoff_max_s=0.1)
    yield pool
    await pool.close()


def client_for(fleet: Fleet, sessions: SessionPool, device_id: str) -> DeviceClient:
    record = next(r for r in fleet.inventory() if r["id"] == device_id)
    session = sessions.session(host=record["host"], port=record["port"])
    return DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))


async def lost_answer(call) -> tuple[FaultCode, float]:
    """The fault code a write ended with, and when the client gave up on it."""
    with pytest.raises(DeviceFault) as info:
        await call
    return info.value.code, time.monotonic()


def test_every_profile_write_role_of_the_load_and_the_inverter_is_covered():
    for profile, device_id in (("controllable_load", "load-0001"), ("sunspec_der", "pv-0001")):
        fleet = Fleet.from_spec_document(FLEET, port=0)
        assert fleet.device(device_id).write_roles() & set(load_profile(profile).roles) == {
            role for device, role, _ in WRITES if device == device_id}


@pytest.mark.parametrize("kind", sorted(APPLY_FAULTS))
@pytest.mark.parametrize("device_id,role,value", WRITES)
async def test_a_write_whose_answer_is_lost_was_applied(fleet, sessions, kind, device_id, role, value):
    fleet.inject(device_id, Fault.parse(kind, {"roles": [role]}))
    client = client_for(fleet, sessions, device_id)
    before = len(fleet.write_log(device_id))
    code, seen_at = await lost_answer(client.write({role: value}))
    assert code is EXPECTED[kind]
    assert await client.read(role) == pytest.approx(value)
    log = fleet.write_log(device_id)
    assert len(log) == before + 1 and log[-1].roles == (role,)
    assert log[-1].values[role] == pytest.approx(value) and log[-1].at < seen_at
    assert fleet.device(device_id).counters.faults_injected == 1


async def test_roles_times_and_after_requests_choose_the_writes_hit(fleet, sessions):
    fleet.inject("load-0001", Fault.late_answer(roles=("revert_timeout_s",), times=1, after_requests=1))
    client = client_for(fleet, sessions, "load-0001")
    await client.write({"revert_timeout_s": 30})  # request 1: not yet
    await client.write({"curtail_setpoint_pct": 50})  # not a chosen role
    code, _ = await lost_answer(client.write({"revert_timeout_s": 60}))
    await client.write({"revert_timeout_s": 70})  # times=1: spent
    assert code is FaultCode.DEVICE_TIMEOUT
    log = fleet.write_log("load-0001")
    assert [(r.roles, dict(r.values)) for r in log] == [
        (("revert_timeout_s",), {"revert_timeout_s": 30}), (("curtail_setpoint_pct",), {"curtail_setpoint_pct": 50}),
        (("revert_timeout_s",), {"revert_timeout_s": 60}), (("revert_timeout_s",), {"revert_timeout_s": 70}),
    ]


async def test_a_firmware_activation_whose_answer_is_lost_still_reboots_the_rtu(fleet, sessions):
    image = bytes(range(200))
    fleet.inject("rtu-0001", Fault.drop_after_apply(roles=("fw_activate",)))
    client = client_for(fleet, sessions, "rtu-0001")
    await client.write({"fw_image_size": len(image), "fw_image_version": "9.9.9"})
    await client.write({"fw_chunk_offset": 0, "fw_chunk_len": len(image), "fw_chunk_data": image})
    code, _ = await lost_answer(client.write({"fw_activate": 1}))
    assert code is FaultCode.CONNECTION_FAILED
    assert fleet.write_log("rtu-0001")[-1].roles == ("fw_activate",)
    await asyncio.sleep(REBOOT_S)
    status = await client.read_many(["firmware_version", "fw_state"])
    assert status == {"firmware_version": "9.9.9", "fw_state": FirmwareState.PENDING_CONFIRM}


async def test_a_key_command_whose_answer_comes_late_still_stages_the_key(fleet, sessions):
    fleet.inject("secure-0001", Fault.late_answer(roles=("auth_cmd",)))
    device, client = fleet.device("secure-0001"), client_for(fleet, sessions, "secure-0001")
    active, new = device.auth.active, AuthKey(2, bytes(range(1, 33)))
    code, _ = await lost_answer(client.auth_command(KeyOp.STAGE, key=active, version=2,
                                                    arg=wrap_key(new, under=active)))
    assert code is FaultCode.DEVICE_TIMEOUT
    slots = await client.key_slots()
    assert (slots.active, slots.pending, slots.pending_state) == (1, 2, PendingState.STAGED)
    deposit, command = fleet.write_log("secure-0001")[-2:]
    assert deposit.roles == ("auth_key_version", "auth_mac")
    assert command.roles == ("auth_cmd", "auth_cmd_version", "auth_cmd_arg") and command.values["auth_cmd"] == KeyOp.STAGE


async def test_a_late_answer_does_arrive_for_a_patient_client(fleet):
    fleet.inject("load-0001", Fault.late_answer(delay_s=0.3))
    patient = SessionPool(timeout_s=3 * REQUEST_TIMEOUT_S)
    try:
        await client_for(fleet, patient, "load-0001").write({"curtail_setpoint_pct": 30})
    finally:
        await patient.close()
    assert fleet.device("load-0001").counters.faults_injected == 1
