"""Key rotation end to end: make before break over simulated secure devices."""

from __future__ import annotations

import pytest

from gridjobs.device_keys import ensure_master_key, store
from gridjobs.device_keys.provisioning import provision, read_keys_file
from simulators import Fleet
from tests.support import outcomes, running_service, serving, wait_for_status


def secure_fleet(count: int) -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 12, "gateways": 2, "feeders": ["F1"]},
        "group": [{"name": "sec", "profile": "secure_load", "count": count, "rated_kw": [5.0, 20.0]}],
    }, host="127.0.0.1", port=0)


@pytest.fixture
def master_key(tmp_path):
    path = tmp_path / "master.key"
    ensure_master_key(path)
    return path


async def secret(runtime, device_id: str, version: int) -> bytes:
    return await store.get_secret(runtime.pool, runtime.keyring.master, device_id, version)


async def provisioned(runtime, client, fleet, tmp_path) -> dict:
    assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
    fleet.write_keys(tmp_path / "keys.json")
    initial = read_keys_file(tmp_path / "keys.json")
    await provision(runtime.pool, runtime.keyring.master, initial)
    return {k.device_id: k for k in initial} if isinstance(initial, list) else initial


async def test_rotation_over_50_devices_then_shed_with_new_keys(tmp_path, db_url, ray_local, master_key):
    async with serving(secure_fleet(50)) as fleet, \
            running_service(db_url, master_key_file=master_key) as (runtime, client):
        await provisioned(runtime, client, fleet, tmp_path)
        old = {d.spec.id: await secret(runtime, d.spec.id, 1) for d in fleet.devices}
        body = {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1"]}, "max_parallel": 10}}
        op_id = (await client.post("/v1/operations", json=body)).json()["id"]
        op = await wait_for_status(client, op_id, timeout_s=120)
        assert op["status"] == "succeeded", (op, list((await outcomes(client, op_id)).values())[:3])
        assert op["result"]["rotated"] == 50
        for device in fleet.devices:
            new = await secret(runtime, device.spec.id, 2)
            assert device.accepts(new) and not device.accepts(old[device.spec.id])
        slots = {s.state for s in await store.slots(runtime.pool, fleet.devices[0].spec.id)}
        assert slots == {"active", "retired"}
        audit = (await client.get("/v1/audit", params={"operation_id": op_id, "limit": 500})).json()
        steps = {e["step"] for e in audit["items"]}
        assert {"generate", "stage", "verify", "activate", "confirm", "retire"} <= steps

        shed = {"kind": "load_shed", "params": {"target_kw": 20, "scope": {"feeders": ["F1"]},
                                                "hold_s": 0}}
        shed_op = await wait_for_status(client, (await client.post("/v1/operations", json=shed)).json()["id"])
        assert shed_op["status"] == "succeeded", shed_op
        assert sum(d.counters.auth_accepted for d in fleet.devices) > 0
        assert sum(d.counters.auth_rejected for d in fleet.devices) == 0
        shed_audit = (await client.get("/v1/audit", params={"operation_id": shed_op["id"]})).json()
        assert {(e["step"], e["key_version"], e["outcome"]) for e in shed_audit["items"]} == {
            ("curtail", 2, "ok"), ("restore", 2, "ok")}


async def test_no_key_material_in_logs_or_api_responses(tmp_path, db_url, ray_local, master_key):
    import io
    import json as jsonlib

    import structlog

    from gridjobs import logs
    from tests.secrets_scan import assert_no_secret

    stream = io.StringIO()
    logs.configure(stream=stream, json=True)
    texts: list[str] = []
    try:
        async with serving(secure_fleet(6)) as fleet, \
                running_service(db_url, master_key_file=master_key) as (runtime, client):
            await provisioned(runtime, client, fleet, tmp_path)
            body = {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1"]}}}
            r = await client.post("/v1/operations", json=body)
            texts.append(r.text)
            op_id = r.json()["id"]
            op = await wait_for_status(client, op_id, timeout_s=60)
            for path in (f"/v1/operations/{op_id}", f"/v1/operations/{op_id}/devices?limit=500",
                         f"/v1/audit?operation_id={op_id}&limit=500", "/v1/devices?limit=500",
                         "/v1/operations?limit=50", "/metrics"):
                texts.append((await client.get(path)).text)
            secrets = [await secret(runtime, d.spec.id, v) for d in fleet.devices for v in (1, 2)]
    finally:
        structlog.reset_defaults()
    assert op["status"] == "succeeded"
    texts.append(stream.getvalue())
    assert "key_command" in stream.getvalue() or "operation_finished" in stream.getvalue()
    assert_no_secret(texts, secrets)
    assert jsonlib.loads(texts[0])["kind"] == "key_rotation"
