"""The chaos invariants catch what they are meant to: writes applied to simulated devices
by hand, kill marks written out as data."""

from __future__ import annotations

from actors.firmware_steps import CHUNK_BYTES
from gridjobs.records import Outcome
from gridjobs.states import OutcomeState
from simulators import Fleet
from tests.chaos.marks import KillMark, device_marks
from tests.chaos.truth import curtailment_truth, rollout_truth, writes_after_verdict

SETPOINT, TIMER = "curtail_setpoint_pct", "revert_timeout_s"
FLEET = {"fleet": {"sample_interval_s": 0, "feeders": 1},
         "group": [{"name": "load", "profile": "controllable_load", "count": 1}]}


def load():
    fleet = Fleet.from_spec_document(FLEET)
    return fleet, fleet.device("load-0001")


def write(device, **values) -> None:
    device.receive_write(address=0, words=[], values=values)


def outcome(state: OutcomeState, step: str, **data) -> Outcome:
    return Outcome("load-0001", state, step, seq=1, data=data)


def mark(fleet, state: OutcomeState | None = None, step: str = "") -> KillMark:
    outcomes = {} if state is None else {"load-0001": outcome(state, step, setpoint_pct=0)}
    return KillMark(devices=device_marks(fleet), outcomes=outcomes)


def test_an_unrecorded_command_may_be_sent_again():
    fleet, device = load()
    write(device, **{TIMER: 30}), write(device, **{SETPOINT: 0})
    at_kill = mark(fleet, OutcomeState.RUNNING, "curtail")
    write(device, **{TIMER: 30}), write(device, **{SETPOINT: 0}), write(device, **{SETPOINT: 100})
    truth = curtailment_truth(fleet.devices, [at_kill], reported_left=set())
    assert not truth.duplicated and not truth.left_curtailed


def test_a_recorded_curtailment_sent_again_is_a_duplicate():
    fleet, device = load()
    write(device, **{SETPOINT: 0})
    at_kill = mark(fleet, OutcomeState.SUCCEEDED, "curtailed")
    write(device, **{SETPOINT: 0}), write(device, **{SETPOINT: 100})
    assert curtailment_truth(fleet.devices, [at_kill], reported_left=set()).duplicated == {"load-0001"}


def test_a_recorded_failure_gets_no_curtailment_and_a_restored_device_no_write():
    fleet, device = load()
    write(device, **{SETPOINT: 0})
    failed = mark(fleet, OutcomeState.FAILED, "curtail")
    write(device, **{SETPOINT: 100})
    restored = mark(fleet, OutcomeState.SUCCEEDED, "restored")
    assert not curtailment_truth(fleet.devices, [failed], reported_left=set()).duplicated
    write(device, **{TIMER: 0})
    assert curtailment_truth(fleet.devices, [restored], reported_left=set()).duplicated == {"load-0001"}


def test_a_device_left_curtailed_counts_and_must_be_reported():
    fleet, device = load()
    write(device, **{TIMER: 30, SETPOINT: 0})
    truth = curtailment_truth(fleet.devices, [], reported_left=set())
    assert truth.left_curtailed == {"load-0001"} and truth.other == {"load-0001"}
    assert not curtailment_truth(fleet.devices, [], reported_left={"load-0001"}).other


def test_writes_after_a_verdict_are_found():
    fleet, device = load()
    at_kill = mark(fleet, OutcomeState.SUCCEEDED, "fw_confirm")
    assert not writes_after_verdict(device, [at_kill])
    write(device, **{TIMER: 5})
    assert writes_after_verdict(device, [at_kill]) == ["1 write(s) after kill 1, its verdict succeeded recorded"]


def test_a_rollout_allows_one_chunk_again_per_interrupted_transfer():
    fleet = Fleet.from_spec_document({"fleet": {"sample_interval_s": 0, "feeders": 1}, "group": [
        {"name": "rtu", "profile": "rtu", "count": 1, "firmware_version": "1.0.0", "reboot_s": 0.0}]})
    device, image = fleet.device("rtu-0001"), bytes(range(200)) * 3
    device.write({"fw_image_size": len(image), "fw_image_version": "2.0.0"})
    for offset in (0, 240, 240):  # the second chunk twice: one interruption
        data = image[offset:offset + CHUNK_BYTES]
        device.write({"fw_chunk_offset": offset, "fw_chunk_len": len(data), "fw_chunk_data": data})
    interrupted = KillMark(devices=device_marks(fleet), outcomes={})
    data = image[480:]
    device.write({"fw_chunk_offset": 480, "fw_chunk_len": len(data), "fw_chunk_data": data})
    assert not rollout_truth(fleet.devices, [interrupted], size=len(image), version="2.0.0").duplicated
    assert rollout_truth(fleet.devices, [], size=len(image), version="2.0.0").duplicated == {"rtu-0001"}
