"""A mixed fleet (loads, SunSpec inverters, feeder controllers) with 10 % of it
faulty: both curtailment kinds still meet their targets from the other
candidates, and every faulty device ends with the outcome code its fault
deserves."""

from __future__ import annotations

import pytest

from gridjobs.load_shed.planner import Candidate, shed_order
from simulators import Fault, Fleet
from tests.support import outcomes, running_service, wait_for_status

FLEET = {
    "fleet": {"seed": 5, "gateways": 3, "feeders": ["F1", "F2"], "sample_interval_s": 0.05},
    "physics": {"noise_fraction": 0.01},
    "group": [
        {"name": "load", "profile": "controllable_load", "count": 60, "rated_kw": [5.0, 50.0],
         "load_factor": [0.5, 0.9], "protected_fraction": 0.05, "shed_priorities": [1, 2, 3],
         "physics": {"ramp_s": 0.3}},
        {"name": "pv", "profile": "sunspec_der", "count": 20, "rated_kw": [10.0, 100.0],
         "load_factor": [0.6, 0.9], "physics": {"ramp_s": 0.3}},
        {"name": "fc", "profile": "feeder_controller", "count": 4, "rated_kw": [100.0, 200.0],
         "load_factor": [0.6, 0.8], "shed_priorities": [3]},
    ],
}
EXPECTED_CODE = {"implausible": "verify_mismatch", "timeout": "device_timeout",
                 "offline": "device_timeout", "exception": "modbus_exception",
                 "drop": "connection_failed"}
FAULTS = {"implausible": Fault.implausible, "timeout": Fault.timeout,
          "offline": Fault.offline, "exception": Fault.exception, "drop": Fault.drop}


def loads(fleet):
    return [d for d in fleet.devices if d.spec.profile != "sunspec_der" and not d.spec.protected]


def inverters(fleet):
    return [d for d in fleet.devices if d.spec.profile == "sunspec_der"]


def inject(fleet) -> dict[str, str]:
    """About 10 % of the fleet: loads near the top of the shed order (so the shed
    reaches them) and inverters (a pro-rata limit reaches all of them)."""
    order = shed_order(Candidate(d.spec.id, d.spec.shed_priority, False, d.measured_kw())
                       for d in loads(fleet))
    pv = sorted(d.spec.id for d in inverters(fleet))
    chosen = {order[0].device_id: "implausible", order[3].device_id: "implausible",
              order[5].device_id: "timeout", order[7].device_id: "exception",
              order[9].device_id: "drop", pv[0]: "implausible", pv[1]: "offline",
              pv[2]: "exception"}
    for device_id, kind in chosen.items():
        fleet.inject(device_id, FAULTS[kind]())
    assert len(chosen) >= 0.09 * len(fleet.devices)
    return chosen


@pytest.fixture
async def fleet():
    f = Fleet.from_spec_document(FLEET, host="127.0.0.1", port=0)
    await f.start()
    yield f
    await f.stop()


async def run(client, body) -> tuple[dict, dict]:
    r = await client.post("/v1/operations", json=body)
    assert r.status_code == 202, r.text
    op = await wait_for_status(client, r.json()["id"], timeout_s=120)
    return op, await outcomes(client, op["id"])


def assert_fault_codes(final: dict, faulty: dict[str, str], kinds: set[str]) -> None:
    for device_id, fault in faulty.items():
        if device_id in kinds:
            assert final[device_id]["state"] == "failed", (device_id, fault, final.get(device_id))
            assert final[device_id]["code"] == EXPECTED_CODE[fault], (device_id, fault, final[device_id])


async def test_both_kinds_meet_targets_on_a_faulty_mixed_fleet(db_url, fleet, ray_local):
    faulty = inject(fleet)
    async with running_service(db_url, request_timeout_s=0.5) as (_, client):
        assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
        target = round(0.4 * sum(d.measured_kw() for d in loads(fleet)), 1)
        shed, final = await run(client, {"kind": "load_shed", "params": {
            "target_kw": target, "scope": {"feeders": ["F1", "F2"]}, "hold_s": 0.5,
            "restore": {"stages": 2, "stage_delay_s": 0.2}, "revert_timeout_s": 30,
            "verify_settle_s": 1.5}})
        assert shed["status"] == "succeeded", shed
        assert shed["result"]["achieved_kw"] >= target
        assert not any(final[d.spec.id]["state"] == "succeeded" for d in inverters(fleet)
                       if d.spec.id in final), "generation must not be shed"
        assert_fault_codes(final, faulty, {d.spec.id for d in loads(fleet)})

        output = sum(d.measured_kw() for d in inverters(fleet))
        limit = round(0.5 * output, 1)
        der, final = await run(client, {"kind": "der_curtailment", "params": {
            "limit_kw": limit, "scope": {"feeders": ["F1", "F2"]}, "hold_s": 0.5,
            "restore": {"stages": 1}, "revert_timeout_s": 30, "verify_settle_s": 1.5}})
        assert der["status"] == "succeeded", der
        assert der["result"]["achieved_kw"] >= der["result"]["target_kw"] > 0
        assert set(final) <= {d.spec.id for d in inverters(fleet)}
        assert_fault_codes(final, faulty, {d.spec.id for d in inverters(fleet)})
    assert all(d.setpoint_pct == 100 for d in loads(fleet))
