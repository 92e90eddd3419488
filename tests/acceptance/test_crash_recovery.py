"""The server as a subprocess, killed with SIGKILL mid-operation.

The simulated fleet runs in the test process, so its counters outlive the
server and show exactly what each device was told.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.support import outcomes, serving, wait_for_status, wait_until

SETPOINT = "curtail_setpoint_pct"


@pytest.fixture
async def fleet():
    async with serving(Fleet.build(devices=40, gateways=2, host="127.0.0.1", port=0, seed=11,
                                   feeders=2)) as f:
        yield f


@pytest.fixture
def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log")
    yield proc
    proc.stop()


def body(fleet, **params) -> dict:
    kw = sum(d.measured_kw() for d in fleet.devices if not d.spec.protected)
    base = {"target_kw": round(kw * 0.4, 1), "scope": {"feeders": ["F1", "F2"]},
            "hold_s": 4, "restore": {"stages": 2, "stage_delay_s": 0.5}, "revert_timeout_s": 30}
    base.update(params)
    return {"kind": "load_shed", "params": base}


async def start_shed(server, fleet, **params) -> tuple[httpx.AsyncClient, str, dict]:
    await server.start()
    client = httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers)
    assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
    r = await client.post("/v1/operations", json=body(fleet, **params))
    assert r.status_code == 202, r.text
    op_id = r.json()["id"]

    async def shed_recorded():
        op = (await client.get(f"/v1/operations/{op_id}")).json()
        return op["progress"]["total"] > 0 and op["progress"]["pending"] == 0
    await wait_until(shed_recorded, timeout_s=90)
    recorded = {d for d, o in (await outcomes(client, op_id)).items() if o["state"] == "succeeded"}
    return client, op_id, recorded


async def test_kill9_then_restart_completes_without_second_curtailment(server, fleet):
    client, op_id, recorded = await start_shed(server, fleet)
    assert recorded
    server.kill9()
    await client.aclose()
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
        op = await wait_for_status(client, op_id, timeout_s=120)
    assert op["status"] == "succeeded", op
    for device in fleet.devices:
        if device.spec.id in recorded:
            # exactly one curtailment and one restore: never curtailed twice
            assert device.counters.writes.get(SETPOINT, 0) == 2, device.spec.id
        assert device.setpoint_pct == 100


async def test_devices_revert_by_themselves_when_backend_dies_in_hold(server, fleet):
    client, op_id, recorded = await start_shed(server, fleet, hold_s=None, revert_timeout_s=3)
    await client.aclose()
    assert recorded and all(fleet.device(d).setpoint_pct == 0 for d in recorded)
    server.kill9()

    async def reverted():
        return all(fleet.device(d).setpoint_pct == 100 for d in recorded)
    await wait_until(reverted, timeout_s=30, interval_s=0.25)
    assert all(fleet.device(d).counters.writes.get(SETPOINT, 0) == 1 for d in recorded)
