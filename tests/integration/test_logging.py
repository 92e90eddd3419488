"""Logs are JSON lines off a TTY, with operation_id and device_id bound."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from gridjobs import logs
from simulators import Fault, Fleet
from tests.support import running_service, wait_for_status


@pytest.fixture
def captured():
    stream = io.StringIO()
    logs.configure(stream=stream)  # a StringIO is not a TTY: JSON expected
    yield stream
    structlog.reset_defaults()


async def test_operation_logs_carry_operation_and_device_ids(captured, db_url, ray_local):
    fleet = Fleet.build(devices=8, gateways=1, host="127.0.0.1", port=0, seed=3, feeders=1)
    await fleet.start()
    try:
        victim = next(d.spec.id for d in fleet.devices if not d.spec.protected)
        fleet.inject(victim, Fault.exception(code=4))
        async with running_service(db_url) as (_, client):
            await client.post("/v1/devices", json=fleet.inventory())
            body = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": ["F1"]},
                                                    "hold_s": 0, "revert_timeout_s": 30}}
            op_id = (await client.post("/v1/operations", json=body)).json()["id"]
            await wait_for_status(client, op_id)
    finally:
        await fleet.stop()
    events = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert events, "nothing was logged"
    mine = [e for e in events if e.get("operation_id") == op_id]
    assert {"operation_started", "operation_finished"} <= {e["event"] for e in mine}
    failed = [e for e in mine if e["event"] == "device_failed"]
    assert failed and failed[0]["device_id"] == victim and failed[0]["code"] == "modbus_exception"
    assert all(e["event"].islower() and " " not in e["event"] for e in events)
