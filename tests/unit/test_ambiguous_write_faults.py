"""Ambiguous-write faults as data, and the device side of them: the write log and the lost answer."""

from __future__ import annotations

import pytest

from simulators import Fault, FaultKind, Fleet, SpecError, parse_fleet_document
from simulators.fault_flags import parse_fault
from simulators.faults import DEFAULT_LATE_ANSWER_S, MAX_LATE_ANSWER_S
from simulators.write_log import WRITE_LOG_LIMIT

SETPOINT, TIMER = "curtail_setpoint_pct", "revert_timeout_s"
FLEET = {
    "fleet": {"sample_interval_s": 0, "feeders": 1},
    "group": [{"name": "load", "profile": "controllable_load", "count": 1},
              {"name": "pv", "profile": "sunspec_der", "count": 1}],
}


def write(device, address: int, values: dict) -> Fault | None:
    """What the gateway does with a decoded write request: apply it, then ask what becomes of the answer."""
    device.admit()
    device.receive_write(address=address, words=[], values=values)
    return device.take_reply()


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("d=late_answer", Fault.late_answer()),
        ("d=late_answer:delay_s=2.5,times=3", Fault.late_answer(delay_s=2.5, times=3)),
        (f"d=drop_after_apply:roles={SETPOINT}+{TIMER},after_requests=2",
         Fault.drop_after_apply(roles=(SETPOINT, TIMER), after_requests=2)),
    ],
)
def test_flags_and_files_give_the_same_faults(flag, expected):
    assert parse_fault(flag) == ("d", expected)
    entry = {"device": "load-0001", **expected.describe()}
    assert parse_fleet_document({**FLEET, "fault": [entry]}).faults[0].fault == expected
    assert Fault.late_answer().delay_s == DEFAULT_LATE_ANSWER_S


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fault.late_answer(delay_s=0),
        lambda: Fault.late_answer(delay_s=MAX_LATE_ANSWER_S + 1),
        lambda: Fault.late_answer(times=0),
        lambda: Fault.drop_after_apply(roles=(SETPOINT, SETPOINT)),
        lambda: Fault.drop_after_apply(roles=SETPOINT),  # a string, not a list of roles
        lambda: Fault.parse("drop_after_apply", {"roles": SETPOINT}),
        lambda: Fault.parse("drop_after_apply", {"delay_s": 2.0}),
        lambda: Fault(kind=FaultKind.TIMEOUT, roles=(SETPOINT,)),
    ],
)
def test_invalid_ambiguous_write_faults_are_rejected(build):
    with pytest.raises(ValueError):
        build()


def test_a_fault_naming_a_role_the_device_never_writes_is_refused():
    fleet = Fleet.from_spec_document(FLEET)
    with pytest.raises(SpecError, match="names roles \\['measured_kw'\\] it never writes"):
        fleet.inject("load-0001", Fault.drop_after_apply(roles=("measured_kw",)))
    fleet.inject("pv-0001", Fault.drop_after_apply(roles=("curtail_enable",)))  # a profile role, not a point name


def test_roles_times_and_after_requests_choose_the_writes_hit():
    device = Fleet.from_spec_document(FLEET).device("load-0001")
    device.inject(Fault.late_answer(roles=(TIMER,), times=2, after_requests=1))
    replies = [write(device, 1, {TIMER: 10}), write(device, 0, {SETPOINT: 50}), write(device, 1, {TIMER: 20}),
               write(device, 0, {SETPOINT: 40, TIMER: 30}), write(device, 1, {TIMER: 40})]
    assert [reply is not None for reply in replies] == [False, False, True, True, False]
    assert device.counters.faults_injected == 2 and device.take_reply() is None
    assert device.setpoint_pct == 40 and device.revert_timeout_s == 40, "every write was applied"


def test_the_write_log_is_ordered_and_bounded():
    device = Fleet.from_spec_document(FLEET).device("load-0001")
    for n in range(WRITE_LOG_LIMIT + 2):
        write(device, 0, {SETPOINT: n % 100, TIMER: n % 7})
    log = list(device.write_log)
    assert len(log) == WRITE_LOG_LIMIT and log[-1].values == {SETPOINT: (WRITE_LOG_LIMIT + 1) % 100,
                                                               TIMER: (WRITE_LOG_LIMIT + 1) % 7}
    assert log[0].roles == (SETPOINT, TIMER) and all(a.at <= b.at for a, b in zip(log, log[1:]))
    with pytest.raises(TypeError):
        log[0].values[SETPOINT] = 1  # a record is read-only


def test_the_inverter_logs_profile_roles_in_their_units():
    device = Fleet.from_spec_document(FLEET).device("pv-0001")
    write(device, 40000, {"121.WMax": 5000, "123.WMaxLim_Ena": 1})
    assert dict(device.write_log[-1].values) == {"max_kw": 5.0, "curtail_enable": 1}
