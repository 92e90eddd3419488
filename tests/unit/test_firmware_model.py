"""The simulated RTU's firmware model on a hand-driven clock: staging, reboot, confirm, rollback, faults."""

from __future__ import annotations

import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import load_profile
from simulators import (
    Bank, DeviceSpec, Fault, FaultKind, FirmwareSpec, FirmwareState, Fleet, LoadPhysics, RejectedWrite,
    SimulatedDevice, SimulatedRtu, SpecError,
)
from simulators.device_base import Request
from simulators.fault_flags import parse_fault
from simulators.fleet_document import parse_fleet_document

RTU = load_profile("rtu")
CHUNK = 240
IMAGE = bytes(range(256)) * 4 + b"tail"  # 1028 bytes: four full chunks and a short one
CHUNK_WRITE = Request(function_code=16, address=40, count=123)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def spec(**firmware) -> DeviceSpec:
    return DeviceSpec(id="rtu-0001", profile="rtu", gateway=0, unit_id=1, feeder="F1", shed_priority=1,
                      protected=False, rated_kw=10.0, load_factor=0.5, noise_seed=1,
                      firmware=FirmwareSpec(**firmware) if firmware else None)


def rtu(clock: Clock, **firmware) -> SimulatedRtu:
    return SimulatedRtu(spec=spec(**firmware), profile=RTU, physics=LoadPhysics(), clock=clock)


def chunk(offset: int, image: bytes = IMAGE) -> dict:
    data = image[offset : offset + CHUNK]
    return {"fw_chunk_offset": offset, "fw_chunk_len": len(data), "fw_chunk_data": data.ljust(CHUNK, b"\0")}


def stage(device: SimulatedRtu, image: bytes = IMAGE, version: str = "4.2.1") -> None:
    device.write({"fw_image_size": len(image), "fw_image_version": version})
    for offset in range(device.staged_bytes, len(image), CHUNK):
        device.write(chunk(offset, image))


def refused(device: SimulatedRtu, values: dict, reason: str) -> None:
    with pytest.raises(RejectedWrite, match=reason) as info:
        device.write(values)
    assert info.value.code == 3


def test_a_new_rtu_runs_its_configured_version_from_bank_a():
    device = rtu(Clock(), version="4.2.0")
    assert (device.firmware_version, device.active_bank, device.firmware_state) == ("4.2.0", Bank.A, FirmwareState.IDLE)
    assert rtu(Clock()).firmware_version == "1.0.0"
    assert device.value("fw_staged_crc") == zlib.crc32(b"") and device.value("fw_chunk_data") is None


def test_staging_keeps_a_contiguous_high_water_mark_and_its_crc():
    device = rtu(Clock())
    device.write({"fw_image_size": len(IMAGE), "fw_image_version": "4.2.1"})
    assert device.firmware_state is FirmwareState.STAGING
    device.write(chunk(0))
    device.write(chunk(CHUNK))
    refused(device, chunk(3 * CHUNK), "leaves a gap after 480 staged bytes")
    device.write(chunk(0))  # a re-send changes nothing
    assert device.value("fw_staged_bytes") == 2 * CHUNK
    assert device.value("fw_staged_crc") == zlib.crc32(IMAGE[: 2 * CHUNK])
    assert (device.counters.fw_chunks_received, device.counters.fw_bytes_received) == (3, 3 * CHUNK)
    device.write(chunk(2 * CHUNK))
    device.write(chunk(3 * CHUNK))
    refused(device, {**chunk(4 * CHUNK), "fw_chunk_len": 100}, "chunk 960..1059 runs past the declared 1028 bytes")
    device.write(chunk(4 * CHUNK))
    assert device.value("fw_staged_crc") == zlib.crc32(IMAGE) and device.staged_bytes == len(IMAGE)


def test_the_same_declaration_keeps_progress_and_a_different_one_resets_it():
    device = rtu(Clock())
    device.write({"fw_image_size": len(IMAGE), "fw_image_version": "4.2.1"})
    device.write(chunk(0))
    device.write({"fw_image_size": len(IMAGE), "fw_image_version": "4.2.1"})
    device.write({"fw_image_version": "4.2.1"})
    assert device.staged_bytes == CHUNK
    device.write({"fw_image_version": "4.2.2"})
    assert device.staged_bytes == 0 and device.value("fw_image_size") == len(IMAGE)


def test_one_firmware_command_per_write_and_a_chunk_is_written_whole():
    device = rtu(Clock())
    refused(device, {"fw_chunk_offset": 0, "fw_chunk_len": 1}, "missing \\['fw_chunk_data'\\]")
    refused(device, {"fw_image_size": 4, **chunk(0)}, "one firmware command per write request")
    assert device.counters.writes == {}


def test_activate_reboots_then_boots_pending_and_confirm_keeps_it():
    clock = Clock()
    device = rtu(clock, version="4.2.0", reboot_s=2.0, confirm_window_s=5.0)
    refused(device, {"fw_activate": 1}, "0 of 0 bytes staged")
    stage(device)
    device.write({"fw_activate": 0})
    assert not device.rebooting
    device.write({"fw_activate": 1})
    assert device.admit(None) == Fault.offline() and device.rebooting
    clock.now += 1.999
    assert device.rebooting
    clock.now += 0.001
    assert device.admit(None) is None
    assert (device.firmware_version, device.active_bank) == ("4.2.1", Bank.B)
    assert device.firmware_state is FirmwareState.PENDING_CONFIRM and device.staged_bytes == 0
    refused(device, {"fw_image_version": "5"}, "awaits confirmation")
    device.write({"fw_confirm": 1})
    device.write({"fw_confirm": 1})  # confirming again is harmless
    clock.now += 60
    assert (device.firmware_version, device.active_bank, device.firmware_state) == (
        "4.2.1", Bank.B, FirmwareState.CONFIRMED)
    counters = device.counters
    assert (counters.fw_activations, counters.fw_confirms, counters.fw_rollbacks) == (1, 1, 0)
    assert counters.writes["fw_confirm"] == 2


def test_no_confirm_within_the_window_rolls_back():
    clock = Clock()
    device = rtu(clock, version="4.2.0", reboot_s=1.0, confirm_window_s=5.0)
    refused(device, {"fw_confirm": 1}, "nothing to confirm in state IDLE")
    stage(device)
    device.write({"fw_activate": 1})
    clock.now += 1.0 + 4.999
    assert device.firmware_state is FirmwareState.PENDING_CONFIRM
    clock.now += 0.001
    assert (device.firmware_version, device.active_bank, device.firmware_state) == (
        "4.2.0", Bank.A, FirmwareState.ROLLED_BACK)
    assert device.counters.fw_rollbacks == 1
    refused(device, {"fw_confirm": 1}, "nothing to confirm in state ROLLED_BACK")


def test_corrupt_chunk_once_and_persistent():
    device = rtu(Clock())
    device.inject(Fault.corrupt_chunk(chunk=1))
    stage(device)
    assert device.value("fw_staged_crc") != zlib.crc32(IMAGE)
    device.write(chunk(CHUNK))
    assert device.value("fw_staged_crc") == zlib.crc32(IMAGE) and device.counters.faults_injected == 1
    stubborn = rtu(Clock())
    stubborn.inject(Fault.corrupt_chunk(persistent=True))
    stage(stubborn)
    stubborn.write(chunk(0))
    assert stubborn.value("fw_staged_crc") != zlib.crc32(IMAGE)


def test_failed_boot_and_endless_reboot():
    clock = Clock()
    failing, looping = rtu(clock, version="4.2.0"), rtu(clock, version="4.2.0")
    failing.inject(Fault.failed_boot())
    looping.inject(Fault.endless_reboot())
    for device in (failing, looping):
        stage(device)
        device.write({"fw_activate": 1})
    clock.now += 3600
    assert (failing.firmware_version, failing.active_bank, failing.firmware_state) == (
        "4.2.0", Bank.A, FirmwareState.ROLLED_BACK)
    assert failing.counters.fw_rollbacks == 1 and failing.admit(None) is None
    assert looping.admit(None) == Fault.offline() and looping.counters.faults_injected == 1
    looping.clear_fault()  # a power cycle: the reboot ends
    assert looping.admit(None) is None and looping.firmware_version == "4.2.1"


def test_drop_mid_transfer_closes_once_on_the_chosen_chunk_write():
    device = rtu(Clock())
    device.inject(Fault.drop_mid_transfer(after_chunks=2))
    read = Request(function_code=3, address=40, count=10)
    hits = [device.admit(CHUNK_WRITE) for _ in range(5)]
    assert hits == [None, None, Fault.drop(), None, None]
    assert device.admit(read) is None and device.counters.faults_injected == 1


def test_firmware_faults_parse_and_need_an_rtu():
    assert Fault.parse("corrupt_chunk", {"chunk": 2, "persistent": True}) == Fault.corrupt_chunk(
        chunk=2, persistent=True)
    assert parse_fault("rtu-0001=corrupt_chunk:persistent=true") == ("rtu-0001", Fault.corrupt_chunk(persistent=True))
    assert parse_fault("r=drop_mid_transfer:after_chunks=3")[1].describe() == {
        "kind": "drop_mid_transfer", "after_chunks": 3}
    with pytest.raises(ValueError, match="takes no after_requests"):
        Fault.parse("failed_boot", {"after_requests": 2})
    with pytest.raises(ValueError, match="chunk must be an int >= 0"):
        Fault.corrupt_chunk(chunk=-1)
    with pytest.raises(ValueError, match="unknown parameters \\['chunk'\\]"):
        Fault.parse("endless_reboot", {"chunk": 1})
    load = SimulatedDevice(spec=replace(spec(), profile="controllable_load"), profile=load_profile("controllable_load"), physics=LoadPhysics())
    with pytest.raises(SpecError, match="cannot take a failed_boot fault"):
        load.inject(Fault.failed_boot())
    assert FaultKind.CORRUPT_CHUNK == "corrupt_chunk"


def test_fleet_document_takes_firmware_keys_for_rtu_groups_only():
    group = {"name": "rtu", "profile": "rtu", "count": 2, "firmware_version": "4.2.0", "reboot_s": 0.5,
             "confirm_window_s": 2}
    plan = parse_fleet_document({"group": [group, {"name": "load", "profile": "controllable_load", "count": 1}],
                                 "fault": [{"device": "rtu-0002", "kind": "corrupt_chunk", "persistent": True}]})
    rtus = [d for d in plan.spec.devices if d.profile == "rtu"]
    assert {d.firmware for d in rtus} == {FirmwareSpec(version="4.2.0", reboot_s=0.5, confirm_window_s=2)}
    assert plan.faults[0].fault == Fault.corrupt_chunk(persistent=True)
    with pytest.raises(SpecError, match="need a profile with firmware roles"):
        parse_fleet_document({"group": [{"name": "l", "profile": "controllable_load", "count": 1, "reboot_s": 1}]})
    with pytest.raises(SpecError, match="group 'rtu': reboot_s must be a finite number >= 0"):
        parse_fleet_document({"group": [{**group, "reboot_s": -1}]})
    with pytest.raises(SpecError, match="firmware_version: .* longer than 16 characters"):
        parse_fleet_document({"group": [{**group, "firmware_version": "x" * 17}]})


def test_a_fraction_of_firmware_faults_over_plain_loads_injects_nothing():
    fleet = Fleet.from_spec_document({"fleet": {"sample_interval_s": 0}, "group": [
        {"name": "rtu", "profile": "rtu", "count": 3}, {"name": "load", "profile": "controllable_load", "count": 3}]})
    with pytest.raises(SpecError, match="cannot take a endless_reboot fault"):
        fleet.inject_fraction(Fault.endless_reboot(), fraction=1.0, seed=1)
    assert fleet.faulty_devices() == {}
    assert len(fleet.inject_fraction(Fault.endless_reboot(), fraction=1.0, seed=1, among=["rtu-0001", "rtu-0002"])) == 2
    assert all(isinstance(fleet.device(f"rtu-000{i}"), SimulatedRtu) for i in (1, 2, 3))


@settings(max_examples=100, deadline=None)
@given(offsets=st.lists(st.integers(min_value=0, max_value=len(IMAGE) - 1), max_size=40),
       lengths=st.lists(st.integers(min_value=1, max_value=CHUNK), min_size=40, max_size=40))
def test_staged_bytes_are_always_the_image_prefix(offsets, lengths):
    device = rtu(Clock())
    device.write({"fw_image_size": len(IMAGE), "fw_image_version": "4.2.1"})
    for offset, length in zip(offsets, lengths):
        data = IMAGE[offset : offset + length]
        values = {"fw_chunk_offset": offset, "fw_chunk_len": len(data), "fw_chunk_data": data}
        accepted = offset <= device.staged_bytes
        try:
            device.write(values)
        except RejectedWrite:
            assert not accepted
        else:
            assert accepted
        staged = device.staged_bytes
        assert device.value("fw_staged_crc") == zlib.crc32(IMAGE[:staged])
