"""Adapters against the simulator over real Modbus/TCP on loopback: no mocks."""

from __future__ import annotations

from dataclasses import replace

import asyncio
import pickle

import pytest

from adapters import (
    CodecError,
    DeviceClient,
    DeviceFault,
    FaultCode,
    NotWritableError,
    SessionClosedError,
    SessionPool,
    load_profile,
)
from gridjobs.transport import free_port
from simulators import Fault, Fleet

PROFILE = load_profile("controllable_load")
ALL_ROLES = list(PROFILE.roles)
POLL_INTERVAL_S = 0.1
POLL_LIMIT = 100  # iterations, not a wall-clock assertion


@pytest.fixture
async def fleet():
    fleet = Fleet.build(devices=10, gateways=2, port=0, seed=7, feeders=2)
    await fleet.start()
    yield fleet
    await fleet.stop()


@pytest.fixture
async def sessions():
    pool = SessionPool(timeout_s=0.3, max_inflight=4, backoff_initial_s=0.02, backoff_max_s=0.1)
    yield pool
    await pool.close()


def client_for(fleet: Fleet, sessions: SessionPool, device_id: str) -> DeviceClient:
    record = next(r for r in fleet.inventory() if r["id"] == device_id)
    session = sessions.session(host=record["host"], port=record["port"])
    return DeviceClient(session=session, unit_id=record["unit_id"], profile=PROFILE)


async def test_reads_decode_the_device_state(fleet, sessions):
    device = fleet.device("load-0003")
    values = await client_for(fleet, sessions, "load-0003").read_many(["rated_kw", "measured_kw"])
    assert values["rated_kw"] == device.rated_kw
    expected = device.rated_kw * device.load_factor
    assert values["measured_kw"] == pytest.approx(expected, rel=0.011)


async def test_contiguous_roles_are_read_in_one_request(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0001"), fleet.device("load-0001")
    values = await client.read_many(ALL_ROLES)
    assert list(values) == ALL_ROLES and device.counters.requests == 1
    await client.read_many(["curtail_setpoint_pct", "measured_kw"])  # 0 and 5..6: read through the gap
    assert device.counters.requests == 2
    gapless = replace(client.profile, read_gap=0)
    await DeviceClient(session=client.session, unit_id=client.unit_id, profile=gapless).read_many(
        ["curtail_setpoint_pct", "measured_kw"])
    assert device.counters.requests == 4  # without read_gap: two requests


async def test_setpoint_and_timer_are_written_in_one_request(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0002"), fleet.device("load-0002")
    await client.write({"curtail_setpoint_pct": 0, "revert_timeout_s": 60})
    assert device.counters.requests == 1
    assert device.counters.writes == {"curtail_setpoint_pct": 1, "revert_timeout_s": 1}
    values = await client.read_many(ALL_ROLES)
    assert values["curtail_setpoint_pct"] == 0 and values["measured_kw"] == 0
    assert values["revert_timeout_s"] == 60 and 0 < values["revert_remaining_s"] <= 60
    assert device.setpoint_pct == 0 and [setpoint for _, setpoint in device.history] == [0]


async def test_revert_timer_restores_the_setpoint_when_it_expires(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0004"), fleet.device("load-0004")
    await client.write({"curtail_setpoint_pct": 30, "revert_timeout_s": 1})
    for _ in range(POLL_LIMIT):
        if await client.read("curtail_setpoint_pct") == 100:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    assert await client.read("revert_remaining_s") == 0
    assert await client.read("measured_kw") > 0
    (curtailed_at, curtailed), (restored_at, restored) = device.history
    assert (curtailed, restored) == (30, 100)
    assert restored_at - curtailed_at == pytest.approx(1.0)


async def test_timer_zero_disables_the_revert(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0005"), fleet.device("load-0005")
    await client.write({"curtail_setpoint_pct": 10, "revert_timeout_s": 1})
    await client.write({"revert_timeout_s": 0})
    assert await client.read("revert_remaining_s") == 0
    assert device.counters.writes["revert_timeout_s"] == 2 and device.setpoint_pct == 10


async def test_timeout_fault_becomes_device_timeout_and_recovers(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0007"), fleet.device("load-0007")
    fleet.inject("load-0007", Fault.timeout(after_requests=1))
    await client.read("measured_kw")
    with pytest.raises(DeviceFault) as info:
        await client.read("measured_kw")
    assert info.value.code == FaultCode.DEVICE_TIMEOUT == "device_timeout"
    assert device.counters.faults_injected == 1
    fleet.clear_faults("load-0007")
    assert await client.read("curtail_setpoint_pct") == 100


async def test_exception_fault_becomes_modbus_exception(fleet, sessions):
    client = client_for(fleet, sessions, "load-0008")
    fleet.inject("load-0008", Fault.exception(code=4))
    with pytest.raises(DeviceFault) as info:
        await client.read("measured_kw")
    assert info.value.code == "modbus_exception" and "exception code 4" in info.value.detail
    copy = pickle.loads(pickle.dumps(info.value))  # faults cross Ray process boundaries
    assert (copy.code, copy.detail) == (info.value.code, info.value.detail)


async def test_drop_fault_becomes_connection_failed_and_session_reconnects(fleet, sessions):
    dropped, neighbour = client_for(fleet, sessions, "load-0009"), client_for(fleet, sessions, "load-0001")
    assert dropped.session is neighbour.session, "units behind one gateway share a session"
    fleet.inject("load-0009", Fault.drop())
    with pytest.raises(DeviceFault) as info:
        await dropped.read("measured_kw")
    assert info.value.code == "connection_failed"
    assert await neighbour.read("curtail_setpoint_pct") == 100  # reconnected for the other unit
    fleet.clear_faults("load-0009")
    assert await dropped.read("curtail_setpoint_pct") == 100


async def test_device_refuses_read_only_and_out_of_range_writes(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0006"), fleet.device("load-0006")
    setpoint, remaining = PROFILE.point("curtail_setpoint_pct"), PROFILE.point("revert_remaining_s")
    with pytest.raises(DeviceFault) as info:
        await client.session.write_registers(unit_id=client.unit_id, address=remaining.address, values=[5])
    assert info.value.code == "modbus_exception" and "ILLEGAL_ADDRESS" in info.value.detail
    with pytest.raises(DeviceFault) as info:
        await client.session.write_registers(unit_id=client.unit_id, address=setpoint.address, values=[150])
    assert info.value.code == "modbus_exception" and "ILLEGAL_VALUE" in info.value.detail
    assert device.setpoint_pct == 100 and not device.counters.writes


async def test_client_rejects_bad_writes_before_sending(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0010"), fleet.device("load-0010")
    with pytest.raises(NotWritableError):
        await client.write({"curtail_setpoint_pct": 0, "measured_kw": 1})
    with pytest.raises(CodecError, match="above maximum 100"):
        await client.write({"curtail_setpoint_pct": 150, "revert_timeout_s": 60})
    assert device.counters.requests == 0


async def test_unknown_unit_is_a_modbus_exception(fleet, sessions):
    session = sessions.session(host="127.0.0.1", port=fleet.ports[0])
    with pytest.raises(DeviceFault) as info:
        await session.read_registers(unit_id=200, address=0, count=1)
    assert info.value.code == "modbus_exception" and "GATEWAY_NO_RESPONSE" in info.value.detail


async def test_fifty_devices_read_concurrently_over_two_gateways():
    fleet = Fleet.build(devices=50, gateways=2, port=0, seed=3, feeders=5)
    sessions = SessionPool(timeout_s=1.0, max_inflight=4)
    await fleet.start()
    try:
        clients = [client_for(fleet, sessions, record["id"]) for record in fleet.inventory()]
        results = await asyncio.gather(*(client.read_many(ALL_ROLES) for client in clients))
    finally:
        await sessions.close()
        await fleet.stop()
    assert len({id(client.session) for client in clients}) == 2
    assert [values["rated_kw"] for values in results] == [d.rated_kw for d in fleet.devices]
    assert all(device.counters.requests == 1 for device in fleet.devices)


async def test_connect_failures_back_off_then_reconnect():
    port = free_port()
    sessions = SessionPool(timeout_s=0.5, connect_timeout_s=0.5, backoff_initial_s=0.2, backoff_max_s=0.2)
    session = sessions.session(host="127.0.0.1", port=port)
    fleet = Fleet.build(devices=1, gateways=1, port=port, seed=1, feeders=1)
    try:
        with pytest.raises(DeviceFault) as refused:
            await session.read_registers(unit_id=1, address=0, count=1)
        with pytest.raises(DeviceFault) as backing_off:
            await session.read_registers(unit_id=1, address=0, count=1)
        assert refused.value.code == backing_off.value.code == "connection_failed"
        assert "cannot connect" in refused.value.detail and "backing off" in backing_off.value.detail
        await fleet.start()
        for _ in range(POLL_LIMIT):
            try:
                assert await session.read_registers(unit_id=1, address=0, count=1) == (100,)
                break
            except DeviceFault as fault:
                assert fault.code == "connection_failed"
                await asyncio.sleep(POLL_INTERVAL_S)
        else:
            pytest.fail("session never reconnected")
    finally:
        await sessions.close()
        await fleet.stop()


async def test_closed_pool_refuses_requests(fleet):
    sessions = SessionPool()
    session = sessions.session(host="127.0.0.1", port=fleet.ports[0])
    assert await session.read_registers(unit_id=1, address=0, count=1) == (100,)
    await sessions.close()
    with pytest.raises(SessionClosedError):
        await session.read_registers(unit_id=1, address=0, count=1)
    with pytest.raises(SessionClosedError):
        sessions.session(host="127.0.0.1", port=fleet.ports[0])


async def test_write_sequence_checks_every_group_first_then_writes_them_in_order(fleet, sessions):
    client, device = client_for(fleet, sessions, "load-0004"), fleet.device("load-0004")
    with pytest.raises(CodecError, match="above maximum 100"):
        await client.write_sequence([{"revert_timeout_s": 60}, {"curtail_setpoint_pct": 101}])
    assert not device.write_log and device.counters.requests == 0, "nothing is written"
    await client.write_sequence([{"revert_timeout_s": 60}, {"curtail_setpoint_pct": 10}])
    assert [record.roles for record in device.write_log] == [("revert_timeout_s",), ("curtail_setpoint_pct",)]
    with pytest.raises(ValueError, match="non-empty sequence of groups"):
        await client.write_sequence({"curtail_setpoint_pct": 10})
