"""DER curtailment end to end, checked independently with pysunspec2's own client."""

from __future__ import annotations

import asyncio

import pytest

from simulators import Fleet
from tests.integration.test_sunspec_conformance import record, scan
from tests.support import running_service, wait_for_status, wait_until

FLEET = {
    "fleet": {"seed": 4, "gateways": 1, "feeders": ["F1"]},
    "physics": {"noise_fraction": 0.0},
    "group": [
        {"name": "pv", "profile": "sunspec_der", "count": 6, "rated_kw": 50.0, "load_factor": 0.8,
         "physics": {"ramp_s": 0.2}},
        {"name": "load", "profile": "controllable_load", "count": 2},
    ],
}


async def test_limit_is_applied_held_and_lifted(db_url, ray_local):
    fleet = Fleet.from_spec_document(FLEET, host="127.0.0.1", port=0)
    await fleet.start()
    try:
        async with running_service(db_url) as (_, client):
            await client.post("/v1/devices", json=fleet.inventory())
            body = {"kind": "der_curtailment", "params": {
                "limit_kw": 120, "scope": {"feeders": ["F1"]}, "hold_s": None,
                "revert_timeout_s": 30, "verify_settle_s": 3}}
            plan = (await client.post("/v1/operations?dry_run=true", json=body)).json()["plan"]
            assert plan["limit_pct"] == 40 and len(plan["devices"]) == 6  # rated kW as the basis
            op_id = (await client.post("/v1/operations", json=body)).json()["id"]

            async def limited():
                op = (await client.get(f"/v1/operations/{op_id}")).json()
                return op["progress"]["total"] == 6 and op["progress"]["pending"] == 0
            await wait_until(limited, timeout_s=60)
            seen = await asyncio.to_thread(scan, record(fleet, "pv-0001"))
            assert (seen["WMaxLimPct"], seen["Ena"]) == (40, 1)  # 240 kW → 120 kW: 40 % of WMax
            assert seen["W"] <= 20000 * 1.05 and seen["RvrtTms"] == 30
            assert sum(d.measured_kw() for d in fleet.devices if d.spec.profile == "sunspec_der") <= 126

            await client.post(f"/v1/operations/{op_id}/cancel")
            op = await wait_for_status(client, op_id)
        assert op["status"] == "cancelled"
        assert op["result"]["initial_output_kw"] == pytest.approx(240, rel=0.01)
        assert op["result"]["limit_kw"] == 120 and op["result"]["achieved_kw"] >= 114
        assert op["result"]["restored"] == 6

        async def lifted():
            seen = await asyncio.to_thread(scan, record(fleet, "pv-0001"))
            return seen["Ena"] == 0 and seen["W"] >= 40000 * 0.98
        await wait_until(lifted, timeout_s=30, interval_s=0.3)
        loads = [d for d in fleet.devices if d.spec.profile == "controllable_load"]
        assert all(d.counters.writes.get("curtail_setpoint_pct", 0) == 0 for d in loads)
    finally:
        await fleet.stop()
