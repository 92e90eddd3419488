"""Authenticated critical writes and key rotation against simulated secure loads, over real Modbus/TCP."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from adapters import (
    AuthKey, DeviceClient, DeviceFault, FaultCode, KeyOp, KeySlots, PendingState, SessionPool, load_profile, wrap_key,
)
from simulators import Fault, Fleet
from simulators.key_file import read_key_file

NEW_SECRET = bytes(range(100, 132))
CURTAIL = {"curtail_setpoint_pct": 20, "revert_timeout_s": 60}
FLEET = {
    "fleet": {"seed": 11, "sample_interval_s": 0},
    "group": [
        {"name": "secure", "profile": "secure_load", "count": 2},
        {"name": "load", "profile": "controllable_load", "count": 1},
    ],
}


@pytest.fixture
async def fleet():
    fleet = Fleet.from_spec_document(FLEET, port=0)
    await fleet.start()
    yield fleet
    await fleet.stop()


@pytest.fixture
async def sessions():
    pool = SessionPool(timeout_s=0.3, backoff_initial_s=0.02, backoff_max_s=0.1)
    yield pool
    await pool.close()


@pytest.fixture
def keys(fleet, tmp_path):
    path = tmp_path / "keys.json"
    fleet.write_keys(path)
    return read_key_file(path)


def client_for(fleet: Fleet, sessions: SessionPool, device_id: str) -> DeviceClient:
    record = next(r for r in fleet.inventory() if r["id"] == device_id)
    session = sessions.session(host=record["host"], port=record["port"])
    return DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))


async def rejected(call) -> DeviceFault:
    with pytest.raises(DeviceFault) as info:
        await call
    return info.value


async def twice(client: DeviceClient, op: KeyOp, *, key: AuthKey, version: int, arg: bytes = b"") -> None:
    """Send a key command and repeat it: a repeat must be harmless."""
    for _ in range(2):
        await client.auth_command(op, key=key, version=version, arg=arg)


async def test_authenticated_curtail_is_accepted(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    challenge = device.challenge
    await client.write(CURTAIL, key=keys["secure-0001"])
    assert device.setpoint_pct == 20 and device.revert_timeout_s == 60
    assert device.counters.requests == 3, "read the challenge, deposit the MAC, write"
    assert (device.counters.auth_accepted, device.counters.auth_rejected) == (1, 0)
    assert device.challenge != challenge


async def test_critical_write_without_a_key_is_a_programming_error(fleet, sessions):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    with pytest.raises(ValueError, match="critical"):
        await client.write(CURTAIL)
    assert device.counters.requests == 0, "nothing went out"


async def test_a_wrong_key_is_rejected_and_counted(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0002"), fleet.device("secure-0002")
    challenge = device.challenge
    wrong = AuthKey(1, NEW_SECRET)
    fault = await rejected(client.write(CURTAIL, key=wrong))
    assert fault.code == FaultCode.AUTH_REJECTED and fault.exception_code == 1
    assert NEW_SECRET.hex() not in str(fault) and repr(NEW_SECRET) not in str(fault)
    assert device.setpoint_pct == 100 and device.counters.auth_rejected == 1
    assert device.challenge != challenge, "a refused attempt changes the challenge too"
    fault = await rejected(client.write(CURTAIL, key=AuthKey(7, keys["secure-0002"].secret)))
    assert fault.code == FaultCode.AUTH_REJECTED, "the right secret under a version the device lacks"
    await client.write(CURTAIL, key=keys["secure-0002"])
    assert device.setpoint_pct == 20


async def test_a_replayed_deposit_and_write_are_rejected(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    key, session, unit = keys["secure-0001"], client.session, client.unit_id
    words = (20, 60)
    challenge = await client.read("auth_challenge")
    deposit = [key.version, *_words(key.mac(challenge=challenge, unit_id=unit, address=0, words=words))]
    for expect_accepted in (True, False):
        await session.write_registers(unit_id=unit, address=56, values=deposit)
        write = session.write_registers(unit_id=unit, address=0, values=words)
        if expect_accepted:
            await write
        else:
            assert (await rejected(write)).exception_code == 1
    assert (device.counters.auth_accepted, device.counters.auth_rejected) == (1, 1)


async def test_a_deposit_is_consumed_by_any_critical_attempt(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    key, session, unit = keys["secure-0001"], client.session, client.unit_id
    challenge = await client.read("auth_challenge")
    mac = key.mac(challenge=challenge, unit_id=unit, address=0, words=(20, 60))
    await session.write_registers(unit_id=unit, address=56, values=[key.version, *_words(mac)])
    assert (await rejected(session.write_registers(unit_id=unit, address=0, values=(30, 60)))).exception_code == 1
    assert (await rejected(session.write_registers(unit_id=unit, address=0, values=(20, 60)))).exception_code == 1
    assert device.setpoint_pct == 100


async def test_full_rotation_keeps_a_working_key_at_every_step(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    old, new = keys["secure-0001"], AuthKey(2, NEW_SECRET)

    async def step(op: KeyOp, key: AuthKey, version: int, arg: bytes = b"") -> KeySlots:
        await twice(client, op, key=key, version=version, arg=arg)
        assert device.accepts(old.secret) or device.accepts(new.secret)
        return await client.key_slots()

    staged = await step(KeyOp.STAGE, old, 2, wrap_key(new, under=old))
    assert staged == KeySlots(active=1, pending=2, previous=None, pending_state=PendingState.STAGED)
    assert (await step(KeyOp.VERIFY, new, 2)).pending_state == PendingState.VERIFIED
    assert await step(KeyOp.ACTIVATE, old, 2) == KeySlots(active=2, pending=None, previous=1,
                                                          pending_state=PendingState.EMPTY)
    assert device.accepts(old.secret) and device.accepts(new.secret), "make before break"
    await client.write(CURTAIL, key=old)
    assert not device.auth.confirmed
    await step(KeyOp.CONFIRM, new, 2)
    assert device.auth.confirmed
    assert await step(KeyOp.RETIRE, new, 1) == KeySlots(active=2, pending=None, previous=None,
                                                        pending_state=PendingState.EMPTY)
    assert (await rejected(client.write(CURTAIL, key=old))).code == FaultCode.AUTH_REJECTED
    await client.write({"curtail_setpoint_pct": 50}, key=new)
    assert device.setpoint_pct == 50 and not device.accepts(old.secret) and device.accepts(new.secret)


async def test_each_command_needs_its_own_key(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0002"), fleet.device("secure-0002")
    old, new = keys["secure-0002"], AuthKey(2, NEW_SECRET)
    refused = [
        client.auth_command(KeyOp.STAGE, key=new, version=2, arg=wrap_key(new, under=old)),  # not the active key
        client.auth_command(KeyOp.VERIFY, key=old, version=2),  # nothing pending yet
    ]
    for call in refused:
        assert (await rejected(call)).code == FaultCode.AUTH_REJECTED
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(new, under=old))
    assert (await rejected(client.auth_command(KeyOp.VERIFY, key=old, version=2))).code == FaultCode.AUTH_REJECTED
    activate = await rejected(client.auth_command(KeyOp.ACTIVATE, key=old, version=2))
    assert (activate.code, activate.exception_code) == (FaultCode.MODBUS_EXCEPTION, 3), "not verified yet"
    assert device.auth.active_version == 1 and device.counters.auth_rejected == 3


async def test_revert_rolls_back_to_the_old_key(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0002"), fleet.device("secure-0002")
    old, new = keys["secure-0002"], AuthKey(2, NEW_SECRET)
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(new, under=old))
    await client.auth_command(KeyOp.VERIFY, key=new, version=2)
    await client.auth_command(KeyOp.ACTIVATE, key=old, version=2)
    await twice(client, KeyOp.REVERT, key=old, version=1)
    assert await client.key_slots() == KeySlots(active=1, pending=None, previous=None,
                                                pending_state=PendingState.EMPTY)
    assert (await rejected(client.write(CURTAIL, key=new))).code == FaultCode.AUTH_REJECTED
    await client.write(CURTAIL, key=old)
    assert device.setpoint_pct == 20 and not device.accepts(new.secret)


async def test_abort_pending_drops_the_staged_key(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    old, new = keys["secure-0001"], AuthKey(2, NEW_SECRET)
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(new, under=old))
    await client.auth_command(KeyOp.VERIFY, key=new, version=2)
    await twice(client, KeyOp.ABORT_PENDING, key=old, version=2)
    assert await client.key_slots() == KeySlots(active=1, pending=None, previous=None,
                                                pending_state=PendingState.EMPTY)
    activate = await rejected(client.auth_command(KeyOp.ACTIVATE, key=old, version=2))
    assert activate.exception_code == 3
    await client.write(CURTAIL, key=old)
    assert device.accepts(old.secret) and not device.accepts(new.secret)


async def test_restaging_a_different_key_replaces_the_pending_one(fleet, sessions, keys):
    client = client_for(fleet, sessions, "secure-0001")
    old, first, second = keys["secure-0001"], AuthKey(2, NEW_SECRET), AuthKey(2, bytes(32))
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(first, under=old))
    await client.auth_command(KeyOp.VERIFY, key=first, version=2)
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(second, under=old))
    assert (await client.key_slots()).pending_state == PendingState.STAGED
    assert (await rejected(client.auth_command(KeyOp.VERIFY, key=first, version=2))).code == FaultCode.AUTH_REJECTED
    await client.auth_command(KeyOp.VERIFY, key=second, version=2)
    assert (await client.key_slots()).pending_state == PendingState.VERIFIED


async def test_a_dropped_answer_after_a_key_command_is_safe_to_repeat(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "secure-0001"), fleet.device("secure-0001")
    old, new = keys["secure-0001"], AuthKey(2, NEW_SECRET)
    fleet.inject("secure-0001", Fault.drop_after_auth_command())
    stage = client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(new, under=old))
    assert (await rejected(stage)).code == FaultCode.CONNECTION_FAILED
    assert device.auth.pending_version == 2, "the device applied it before closing"
    await client.auth_command(KeyOp.STAGE, key=old, version=2, arg=wrap_key(new, under=old))
    await client.auth_command(KeyOp.VERIFY, key=new, version=2)
    assert (await client.key_slots()).pending_state == PendingState.VERIFIED
    assert device.counters.faults_injected == 1


async def test_plain_loads_ignore_keys_and_cannot_take_auth_faults(fleet, sessions, keys):
    client, device = client_for(fleet, sessions, "load-0001"), fleet.device("load-0001")
    assert not client.profile.requires_auth and set(keys) == {"secure-0001", "secure-0002"}
    await client.write(CURTAIL)
    assert device.setpoint_pct == 20 and device.counters.requests == 1
    with pytest.raises(ValueError, match="cannot take a drop_after_auth_command fault"):
        fleet.inject("load-0001", Fault.drop_after_auth_command())


async def test_keys_file_is_private_and_keys_stay_out_of_inventory_and_logs(fleet, sessions, tmp_path, caplog):
    path = tmp_path / "keys.json"
    fleet.write_keys(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    keys = read_key_file(path)
    assert {key.version for key in keys.values()} == {1}
    secret = keys["secure-0001"].secret
    assert secret.hex() not in repr(keys) and "secret" not in str(fleet.inventory())
    caplog.set_level(logging.DEBUG)
    client, new = client_for(fleet, sessions, "secure-0001"), AuthKey(2, NEW_SECRET)
    await client.auth_command(KeyOp.STAGE, key=keys["secure-0001"], version=2,
                              arg=wrap_key(new, under=keys["secure-0001"]))
    await rejected(client.write(CURTAIL, key=AuthKey(3, NEW_SECRET)))
    for text in (secret.hex(), NEW_SECRET.hex(), repr(secret), repr(NEW_SECRET)):
        assert text not in caplog.text


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
