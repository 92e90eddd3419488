"""Firmware transfer to simulated RTUs over real Modbus/TCP on loopback, through DeviceClient: no mocks."""

from __future__ import annotations

import asyncio
import random
import zlib
from pathlib import Path

import pytest

from adapters import DeviceClient, DeviceFault, FaultCode, SessionPool, load_profile
import simulators
from simulators import Bank, Fault, FirmwareState, Fleet

FLEETS = Path(simulators.__file__).parent / "fleets"
OLD, NEW = "4.2.0", "4.2.1"
IMAGE = random.Random(42).randbytes(10 * 1024)  # 10 KiB: 42 full chunks and a short one
CHUNK = 240
REBOOT_S, CONFIRM_WINDOW_S = 0.6, 1.0
STATUS = ["firmware_version", "fw_active_bank", "fw_state", "fw_staged_bytes", "fw_staged_crc"]
POLL_LIMIT = 60  # iterations of one client timeout or sleep each, not a wall-clock assertion
POLL_INTERVAL_S = 0.1
FLEET = {
    "fleet": {"sample_interval_s": 0},
    "group": [
        {"name": "rtu", "profile": "rtu", "count": 3, "firmware_version": OLD, "reboot_s": REBOOT_S,
         "confirm_window_s": CONFIRM_WINDOW_S},
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


def client_for(fleet: Fleet, sessions: SessionPool, device_id: str) -> DeviceClient:
    record = next(r for r in fleet.inventory() if r["id"] == device_id)
    session = sessions.session(host=record["host"], port=record["port"])
    return DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))


async def send_chunk(client: DeviceClient, offset: int, image: bytes = IMAGE) -> None:
    data = image[offset : offset + CHUNK]
    await client.write({"fw_chunk_offset": offset, "fw_chunk_len": len(data), "fw_chunk_data": data})


async def transfer(client: DeviceClient, image: bytes = IMAGE, version: str = NEW) -> int:
    """Declare the image, then send chunks from wherever the device's staged bytes stand; return that start."""
    await client.write({"fw_image_size": len(image), "fw_image_version": version})
    start = await client.read("fw_staged_bytes")
    for offset in range(start, len(image), CHUNK):
        await send_chunk(client, offset, image)
    return start


async def answer_after_reboot(client: DeviceClient) -> dict:
    """Status once the device answers again; every miss before must be a device timeout."""
    for _ in range(POLL_LIMIT):
        try:
            return await client.read_many(STATUS)
        except DeviceFault as fault:
            assert fault.code == FaultCode.DEVICE_TIMEOUT, fault
    raise AssertionError("the device did not come back")


async def activate_and_reboot(client: DeviceClient) -> dict:
    await client.write({"fw_activate": 1})
    with pytest.raises(DeviceFault) as info:
        await client.read("fw_state")
    assert info.value.code == FaultCode.DEVICE_TIMEOUT, "silent while it reboots"
    return await answer_after_reboot(client)


async def test_staged_image_boots_and_confirm_keeps_it(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0001"), fleet.device("rtu-0001")
    neighbour = client_for(fleet, sessions, "load-0001")
    before = device.counters.requests
    assert await transfer(client) == 0
    chunks = -(-len(IMAGE) // CHUNK)
    assert device.counters.requests - before == 1 + 1 + chunks, "declare, read, then one FC16 per chunk"
    status = await client.read_many(STATUS)
    assert status == {"firmware_version": OLD, "fw_active_bank": Bank.A, "fw_state": FirmwareState.STAGING,
                      "fw_staged_bytes": len(IMAGE), "fw_staged_crc": zlib.crc32(IMAGE)}
    await client.write({"fw_activate": 1})
    with pytest.raises(DeviceFault) as info:
        await client.read("fw_state")
    assert info.value.code == FaultCode.DEVICE_TIMEOUT
    assert await neighbour.read("curtail_setpoint_pct") == 100, "only the rebooting unit is silent"
    booted = await answer_after_reboot(client)
    assert (booted["firmware_version"], booted["fw_active_bank"], booted["fw_state"]) == (
        NEW, Bank.B, FirmwareState.PENDING_CONFIRM)
    await client.write({"fw_confirm": 1})
    await client.write({"fw_confirm": 1})  # idempotent
    assert await client.read("fw_state") == FirmwareState.CONFIRMED
    assert (device.firmware_version, device.active_bank) == (NEW, Bank.B)
    counters = device.counters
    assert (counters.fw_chunks_received, counters.fw_bytes_received) == (chunks, len(IMAGE))
    assert (counters.fw_activations, counters.fw_confirms, counters.fw_rollbacks) == (1, 1, 0)


async def test_unconfirmed_boot_rolls_back_to_the_old_version(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0002"), fleet.device("rtu-0002")
    await transfer(client)
    booted = await activate_and_reboot(client)
    assert booted["fw_state"] == FirmwareState.PENDING_CONFIRM
    for _ in range(POLL_LIMIT):
        if await client.read("fw_state") == FirmwareState.ROLLED_BACK:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    status = await client.read_many(STATUS)
    assert (status["firmware_version"], status["fw_active_bank"], status["fw_state"]) == (
        OLD, Bank.A, FirmwareState.ROLLED_BACK)
    assert device.counters.fw_rollbacks == 1
    with pytest.raises(DeviceFault) as info:
        await client.write({"fw_confirm": 1})
    assert info.value.exception_code == 3, "too late to confirm"


async def test_corrupt_chunk_shows_in_the_crc_and_a_resend_fixes_it(fleet, sessions):
    client = client_for(fleet, sessions, "rtu-0001")
    fleet.inject("rtu-0001", Fault.corrupt_chunk(chunk=5))
    await transfer(client)
    assert await client.read("fw_staged_crc") != zlib.crc32(IMAGE)
    await send_chunk(client, 5 * CHUNK)
    assert await client.read_many(["fw_staged_bytes", "fw_staged_crc"]) == {
        "fw_staged_bytes": len(IMAGE), "fw_staged_crc": zlib.crc32(IMAGE)}


async def test_persistent_corruption_survives_a_resend(fleet, sessions):
    client = client_for(fleet, sessions, "rtu-0001")
    fleet.inject("rtu-0001", Fault.corrupt_chunk(chunk=40, persistent=True))
    await transfer(client)
    await send_chunk(client, 40 * CHUNK)
    assert await client.read("fw_staged_crc") != zlib.crc32(IMAGE)


async def test_failed_boot_comes_back_on_the_old_version(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0003"), fleet.device("rtu-0003")
    fleet.inject("rtu-0003", Fault.failed_boot())
    await transfer(client)
    status = await activate_and_reboot(client)
    assert (status["firmware_version"], status["fw_active_bank"], status["fw_state"]) == (
        OLD, Bank.A, FirmwareState.ROLLED_BACK)
    assert device.counters.fw_rollbacks == 1 and device.counters.faults_injected == 1


async def test_endless_reboot_never_answers_again(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0001"), fleet.device("rtu-0001")
    fleet.inject("rtu-0001", Fault.endless_reboot())
    await transfer(client)
    await client.write({"fw_activate": 1})
    misses = 0
    while misses * 0.3 < 3 * REBOOT_S:  # well past the reboot time, counted in client timeouts
        with pytest.raises(DeviceFault) as info:
            await client.read("fw_state")
        assert info.value.code == FaultCode.DEVICE_TIMEOUT
        misses += 1
    assert device.rebooting and device.firmware_version == OLD


async def test_dropped_connection_mid_transfer_resumes_from_the_staged_bytes(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0002"), fleet.device("rtu-0002")
    fleet.inject("rtu-0002", Fault.drop_mid_transfer(after_chunks=10))
    with pytest.raises(DeviceFault) as info:
        await transfer(client)
    assert info.value.code == FaultCode.CONNECTION_FAILED
    resumed_at = await transfer(client)  # the session reconnects; same declaration keeps the progress
    assert resumed_at == 10 * CHUNK
    assert await client.read("fw_staged_crc") == zlib.crc32(IMAGE)
    assert len(IMAGE) <= device.counters.fw_bytes_received <= len(IMAGE) + CHUNK
    assert device.counters.faults_injected == 1


async def test_redeclaring_keeps_progress_and_a_new_version_resets_it(fleet, sessions):
    client = client_for(fleet, sessions, "rtu-0003")
    await client.write({"fw_image_size": len(IMAGE), "fw_image_version": NEW})
    for offset in range(0, 3 * CHUNK, CHUNK):
        await send_chunk(client, offset)
    await client.write({"fw_image_size": len(IMAGE), "fw_image_version": NEW})
    requests = fleet.device("rtu-0003").counters.requests
    precheck = await client.read_many([*STATUS, "fw_image_size", "fw_image_version"])
    assert fleet.device("rtu-0003").counters.requests == requests + 1, "status and declaration: one read"
    assert (precheck["fw_staged_bytes"], precheck["fw_image_size"], precheck["fw_image_version"]) == (
        3 * CHUNK, len(IMAGE), NEW)
    await client.write({"fw_image_size": len(IMAGE), "fw_image_version": "4.2.2"})
    assert await client.read_many(["fw_staged_bytes", "fw_staged_crc"]) == {
        "fw_staged_bytes": 0, "fw_staged_crc": zlib.crc32(b"")}


async def test_device_refuses_gaps_overruns_and_early_activation(fleet, sessions):
    client, device = client_for(fleet, sessions, "rtu-0001"), fleet.device("rtu-0001")
    small = IMAGE[:100]
    await client.write({"fw_image_size": len(small), "fw_image_version": NEW})
    refusals = [
        send_chunk(client, CHUNK, small + bytes(400)),  # leaves a gap after 0 staged bytes
        send_chunk(client, 0, small + bytes(140)),  # 240 bytes run past the declared 100
        client.write({"fw_activate": 1}),  # nothing staged yet
    ]
    for refused in refusals:
        with pytest.raises(DeviceFault) as info:
            await refused
        assert info.value.code == FaultCode.MODBUS_EXCEPTION and info.value.exception_code == 3
    await send_chunk(client, 0, small)
    assert await client.read("fw_staged_crc") == zlib.crc32(small)
    assert (device.counters.fw_chunks_received, device.counters.fw_activations) == (1, 0)


async def test_rollout_fleet_file_serves_rtus_with_their_faults(sessions):
    fleet = Fleet.from_toml(FLEETS / "rollout.toml")
    faults = {device_id: fault.kind for device_id, fault in fleet.faulty_devices().items()}
    assert faults == {"rtu-0002": "corrupt_chunk", "rtu-0003": "failed_boot", "rtu-0004": "endless_reboot",
                      "rtu-0005": "drop_mid_transfer"}
    await fleet.start()
    try:
        client = client_for(fleet, sessions, "rtu-0002")
        assert (await client.read_many(STATUS))["firmware_version"] == OLD
        await transfer(client)
        assert await client.read("fw_staged_crc") != zlib.crc32(IMAGE)
        load = client_for(fleet, sessions, "load-0001")
        assert not load.profile.has_role("fw_state") and await load.read("curtail_setpoint_pct") == 100
    finally:
        await fleet.stop()


def test_cli_refuses_a_firmware_fault_for_a_plain_load(capsys):
    from simulators.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--fleet", str(FLEETS / "rollout.toml"), "--fault", "load-0001=failed_boot"])
    assert info.value.code == 2 and "cannot take a failed_boot fault" in capsys.readouterr().err
