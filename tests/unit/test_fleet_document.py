"""Fleet files, fault specs and physics as plain data."""

from __future__ import annotations

import copy
import math
from collections import Counter
from pathlib import Path

import pytest

import simulators
from simulators import Fault, FaultKind, Fleet, LoadPhysics, PowerPath, SpecError, load_fleet_file, parse_fleet_document
from simulators.fault_flags import parse_fault, parse_fault_fraction

FLEETS = Path(simulators.__file__).parent / "fleets"
DOCUMENT = {
    "fleet": {"seed": 2, "gateways": 2, "feeders": ["A", "B"]},
    "group": [
        {"name": "load", "profile": "controllable_load", "count": 6, "physics": {"ramp_s": 1.0}},
        {"name": "pv", "profile": "sunspec_der", "count": 3, "gateways": [1]},
    ],
    "fault": [{"device": "pv-0002", "kind": "drop"}, {"fraction": 0.5, "group": "load", "kind": "timeout"}],
}


def test_shipped_mixed_fleet_has_the_documented_mix():
    plan = load_fleet_file(FLEETS / "mixed.toml")
    assert Counter(d.profile for d in plan.spec.devices) == {
        "controllable_load": 800, "sunspec_der": 150, "feeder_controller": 50,
    }
    assert len(plan.spec.gateways) == 5 and len(plan.spec.feeders) == 10
    assert max(d.unit_id for d in plan.spec.devices) == 200
    loads = [d for d in plan.spec.devices if d.profile == "controllable_load"]
    assert loads[0].physics == LoadPhysics(ramp_s=2.0, surge_factor=0.5, surge_decay_s=5.0)


def test_groups_fill_gateways_round_robin_with_the_next_free_unit_ids():
    plan = parse_fleet_document(DOCUMENT)
    placed = {d.id: (d.gateway, d.unit_id, d.feeder) for d in plan.spec.devices}
    assert placed["load-0001"] == (0, 1, "A") and placed["load-0002"] == (1, 1, "A")
    assert placed["load-0006"] == (1, 3, "B")
    assert [placed[f"pv-000{i}"][:2] for i in (1, 2, 3)] == [(1, 4), (1, 5), (1, 6)]
    assert plan.groups["pv"] == ("pv-0001", "pv-0002", "pv-0003")
    assert parse_fleet_document(DOCUMENT) == plan, "the layout is a pure function of the document"


def test_file_faults_are_injected_and_listed():
    fleet = Fleet.from_spec_document(DOCUMENT)
    faulty = fleet.faulty_devices()
    assert faulty["pv-0002"] == Fault.drop()
    timed_out = sorted(d for d, f in faulty.items() if f.kind is FaultKind.TIMEOUT)
    assert len(timed_out) == 3 and all(d.startswith("load-") for d in timed_out)
    assert timed_out == sorted(d for d, f in Fleet.from_spec_document(DOCUMENT).faulty_devices().items()
                               if f.kind is FaultKind.TIMEOUT), "the choice is seeded"


def changed(path: str, value) -> dict:
    document = copy.deepcopy(DOCUMENT)
    *parents, key = path.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[key] = value
    return document


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (changed("group.0.profile", "toaster"), "group 'load': no shipped profile or profile file named 'toaster'"),
        (changed("group.0.count", 0), "group 'load': count must be >= 1"),
        (changed("group.0.count", 500), "unit_id 248 is not in 1..247"),
        (changed("group.1.first_unit_id", 1), "unit id 1 on gateway 1 is already used by 'load-0002'"),
        (changed("group.1.gateways", [7]), "no gateways [7]"),
        (changed("group.0.colour", "red"), "unknown keys ['colour']"),
        (changed("group.0.physics", {"ramp_s": -1}), "ramp_s must be"),
        (changed("fleet.gateways", 0), "needs gateways >= 1"),
        (changed("fault", [{"kind": "melt", "device": "load-0001"}]), "unknown fault kind 'melt'"),
        (changed("fault", [{"kind": "timeout"}]), "exactly one of 'device' or 'fraction'"),
        (changed("fault", [{"kind": "timeout", "fraction": 2}]), "fraction must be in (0, 1]"),
        (changed("fault", [{"kind": "timeout", "fraction": 0.5, "group": "x"}]), "no group 'x'"),
        (changed("fault", [{"kind": "drop", "device": "load-0001", "code": 3}]), "unknown parameters ['code']"),
        ({"fleet": {}}, "needs at least one [[group]]"),
    ],
)
def test_invalid_fleet_documents_are_rejected(document, problem):
    with pytest.raises(SpecError) as info:
        Fleet.from_spec_document(document)
    assert problem in str(info.value), str(info.value)


def test_unknown_device_in_a_fault_is_an_error():
    with pytest.raises(KeyError, match="no device 'load-0099'"):
        Fleet.from_spec_document(changed("fault", [{"kind": "drop", "device": "load-0099"}]))


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("load-0002=exception", ("load-0002", Fault.exception(code=4))),
        ("load-0002=exception:code=3", ("load-0002", Fault.exception(code=3))),
        ("d=latency:min_s=0.1,max_s=0.3", ("d", Fault.latency(min_s=0.1, max_s=0.3))),
        ("d=offline:start_s=1,duration_s=2", ("d", Fault.offline(start_s=1, duration_s=2))),
        ("d=implausible", ("d", Fault.implausible())),
    ],
)
def test_fault_flags(flag, expected):
    assert parse_fault(flag) == expected


def test_fault_fraction_flags():
    assert parse_fault_fraction("timeout=0.1") == (Fault.timeout(), 0.1)
    assert parse_fault_fraction("latency:min_s=0,max_s=1=0.25") == (Fault.latency(min_s=0, max_s=1), 0.25)
    for bad in ("timeout=2", "timeout", "melt=0.1"):
        with pytest.raises(ValueError):
            parse_fault_fraction(bad)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Fault.latency(min_s=0.5, max_s=0.1),
        lambda: Fault.latency(min_s=0, max_s=1, distribution="lognormal"),
        lambda: Fault.latency(min_s=0, max_s=1, distribution="pareto"),
        lambda: Fault.offline(duration_s=0),
        lambda: Fault(kind=FaultKind.TIMEOUT, start_s=3),
    ],
)
def test_invalid_new_faults_are_rejected(build):
    with pytest.raises(ValueError):
        build()


def test_latency_draws_stay_in_bounds_and_offline_windows_close():
    lognormal = Fault.latency(min_s=0.05, max_s=0.5, distribution="lognormal", median_s=0.1, sigma=1.0)
    draws = [lognormal.latency_s(u / 1000) for u in range(1000)]
    assert min(draws) == 0.05 and max(draws) == 0.5 and sorted(draws) == draws
    assert lognormal.latency_s(0.5) == pytest.approx(0.1)
    assert Fault.latency(min_s=1, max_s=3).latency_s(0.5) == 2
    window = Fault.offline(start_s=1, duration_s=2)
    assert [window.offline_at(t) for t in (0.5, 1, 2.9, 3)] == [False, True, True, False]
    assert Fault.offline().offline_at(1e9)
    assert window.describe() == {"kind": "offline", "start_s": 1, "duration_s": 2}


def test_power_paths_ramp_and_surge():
    linear = LoadPhysics(ramp_s=2.0, surge_factor=0.5, surge_decay_s=1.0)
    path = linear.retarget(PowerPath.steady(0.0, at=0.0), target_kw=10.0, at=0.0, restore=True)
    assert path.surge_kw == 5.0
    assert linear.power_kw(path, now=1.0) == pytest.approx(5.0 + 5.0 * math.exp(-1.0))
    assert linear.power_kw(path, now=50.0) == pytest.approx(10.0)
    first_order = LoadPhysics(ramp_s=3.0, ramp_shape="first_order")
    path = first_order.retarget(PowerPath.steady(10.0, at=0.0), target_kw=0.0, at=0.0)
    assert first_order.power_kw(path, now=1.0) == pytest.approx(10 * math.exp(-1.0))
    assert path.surge_kw == 0, "only a restore surges"
    assert LoadPhysics().power_kw(path, now=0.0) == 0.0, "the default is immediate"
