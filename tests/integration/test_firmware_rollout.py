"""Firmware rollouts end to end: real Postgres, Ray shards, Modbus RTUs on loopback."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from simulators import Fault, Fleet
from tests.support import admin_headers, outcomes, running_service, serving, wait_for_status, wait_until

OLD, NEW = "4.2.0", "4.2.1"
IMAGE = os.urandom(6 * 1024 + 17)  # 26 chunks of 240 bytes, the last one short


def rtu_fleet(count: int, *, reboot_s: float = 0.2) -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 8, "gateways": 2, "feeders": ["F1"]},
        "group": [{"name": "rtu", "profile": "rtu", "count": count, "rated_kw": [5.0, 20.0],
                   "firmware_version": OLD, "reboot_s": reboot_s, "confirm_window_s": 3.0}],
    }, host="127.0.0.1", port=0)


async def upload(client, image: bytes = IMAGE) -> str:
    r = await client.post("/v1/firmware", params={"version": NEW, "profile": "rtu"}, content=image,
                          headers={"content-type": "application/octet-stream"})
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def rollout(firmware_id: str, **params) -> dict:
    return {"kind": "firmware_rollout", "params": {
        "firmware_id": firmware_id, "scope": {"feeders": ["F1"]}, "device_timeout_s": 10,
        **params}}


async def start(client, body) -> str:
    r = await client.post("/v1/operations", json=body)
    assert r.status_code == 202, r.text
    return r.json()["id"]


@pytest.fixture
async def fleet50():
    async with serving(rtu_fleet(50)) as fleet:
        yield fleet


async def test_rollout_updates_every_rtu_once(db_url, ray_local, fleet50):
    async with running_service(db_url) as (_, client):
        await client.post("/v1/devices", json=fleet50.inventory())
        fw = await upload(client)
        plan = (await client.post("/v1/operations?dry_run=true", json=rollout(fw, max_parallel=8))).json()["plan"]
        op = await wait_for_status(client, await start(client, rollout(fw, max_parallel=8)), timeout_s=180)
        final = await outcomes(client, op["id"])
    assert op["status"] == "succeeded", op
    assert op["result"]["updated"] == 50 and op["result"]["waves"] == [1, 4, 20, 25]
    for device in fleet50.devices:
        assert device.firmware_version == NEW and device.counters.fw_activations == 1
        assert device.counters.fw_bytes_received == len(IMAGE)  # no interruption: each byte once
    # the dry run's waves are the waves that ran: outcomes come in execution order
    planned = [d for wave in plan["waves"] for d in wave["device_ids"]]
    assert list(final) == planned and plan["expected_transfers"] == 50
    assert [len(w["device_ids"]) for w in plan["waves"]] == op["result"]["waves"]


async def test_failures_abort_at_the_threshold(db_url, ray_local, fleet50):
    ids = sorted(d.spec.id for d in fleet50.devices)
    failing = {d for i, d in enumerate(ids) if i % 10 in (1, 4, 7)}  # 30 %, none is the canary
    for device_id in failing:
        fleet50.inject(device_id, Fault.failed_boot())
    async with running_service(db_url) as (_, client):
        await client.post("/v1/devices", json=fleet50.inventory())
        fw = await upload(client)
        body = rollout(fw, waves=[1, 10, 30, "100%"], max_parallel=3, failure_threshold_pct=20,
                       min_executed=4)
        op = await wait_for_status(client, await start(client, body), timeout_s=180)
        final = await outcomes(client, op["id"])
    assert op["status"] == "failed" and op["error"]["code"] == "abort_threshold", op
    started = {d for d, o in final.items() if o["code"] != "cancelled" or o["step"] != "queued"}
    never = [d for d in ids if final[d]["step"] == "queued"]
    assert never and all(final[d]["state"] == "cancelled" for d in never)
    for device in fleet50.devices:
        if device.spec.id in never:  # not touched at all
            assert device.counters.fw_bytes_received == 0 and device.counters.fw_activations == 0
        if device.spec.id in failing and device.spec.id in started:
            assert final[device.spec.id]["code"] == "rolled_back"
            assert device.firmware_version == OLD  # back on the old bank
    assert len(started) < 30  # it stopped well before the last wave


async def test_manual_approval_pauses_between_waves(db_url, ray_local):
    async with serving(rtu_fleet(4)) as fleet, running_service(db_url) as (runtime, client):
        await client.post("/v1/devices", json=fleet.inventory())
        fw = await upload(client)
        first = await admin_headers(runtime.pool, name="engineer-1", roles=["engineer"])
        second = await admin_headers(runtime.pool, name="engineer-2", roles=["engineer"])
        r = await client.post("/v1/operations", json=rollout(fw, waves=[1, "100%"], approval="manual"),
                              headers=first)
        op_id = r.json()["id"]
        paused = await wait_for_status(client, op_id, {"paused"}, timeout_s=60)
        assert paused["progress"]["succeeded"] == 1
        assert sum(d.firmware_version == NEW for d in fleet.devices) == 1
        own = await client.post(f"/v1/operations/{op_id}/resume", headers=first)
        assert own.status_code == 403 and "two-person rule" in own.json()["detail"]  # not its submitter
        r = await client.post(f"/v1/operations/{op_id}/resume", headers=second)
        assert r.status_code == 202
        op = await wait_for_status(client, op_id, timeout_s=60)
        assert op["status"] == "succeeded" and op["result"]["updated"] == 4
        assert (op["submitted_by"], op["resumed_by"]) == ("engineer-1", "engineer-2")
        again = await client.post(f"/v1/operations/{op_id}/resume", headers=second)
        assert again.status_code == 409


async def test_cancel_stops_new_devices_and_says_where_each_stopped(db_url, ray_local):
    async with serving(rtu_fleet(12)) as fleet, running_service(db_url) as (_, client):
        await client.post("/v1/devices", json=fleet.inventory())
        fw = await upload(client)
        op_id = await start(client, rollout(fw, waves=["100%"], max_parallel=2))

        async def some_done():
            op = (await client.get(f"/v1/operations/{op_id}")).json()
            return op["progress"]["succeeded"] >= 2
        await wait_until(some_done, timeout_s=60)
        assert (await client.post(f"/v1/operations/{op_id}/cancel")).status_code == 202
        op = await wait_for_status(client, op_id, timeout_s=60)
        final = await outcomes(client, op_id)
    assert op["status"] == "cancelled"
    cancelled = [o for o in final.values() if o["state"] == "cancelled"]
    assert cancelled and all(o["detail"] for o in cancelled)
    for device in fleet.devices:
        entry = final.get(device.spec.id)
        if entry is None or entry["state"] == "cancelled":
            assert device.firmware_version == OLD and device.counters.fw_activations == 0
        else:
            assert entry["state"] == "succeeded" and device.firmware_version == NEW


async def test_shed_goes_first_on_devices_mid_transfer(db_url, ray_local):
    big = os.urandom(96 * 1024)  # 410 chunks: long enough to shed in the middle
    async with serving(rtu_fleet(4)) as fleet, running_service(db_url) as (_, client):
        await client.post("/v1/devices", json=fleet.inventory())
        fw = await upload(client, big)
        op_id = await start(client, rollout(fw, waves=["100%"], max_parallel=4, device_timeout_s=60))

        async def transferring():
            return all(0 < d.counters.fw_bytes_received < len(big) for d in fleet.devices)
        await wait_until(transferring, timeout_s=60, interval_s=0.02)
        shed = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": ["F1"]},
                                                "hold_s": 0}}
        shed_id = await start(client, shed)
        shed_op = await wait_for_status(client, shed_id, timeout_s=60)
        assert shed_op["status"] == "succeeded"
        mid = [d.counters.fw_bytes_received for d in fleet.devices]
        assert (await client.get(f"/v1/operations/{op_id}")).json()["status"] == "running"
        assert any(b < len(big) for b in mid), "the shed ran while transfers were still going"
        op = await wait_for_status(client, op_id, timeout_s=120)
    assert op["status"] == "succeeded", op
    assert all(d.firmware_version == NEW for d in fleet.devices)


async def test_a_paused_rollout_taken_over_stays_paused_until_resumed(db_url, ray_local):
    async with serving(rtu_fleet(3)) as fleet:
        async with running_service(db_url) as (_, client):
            await client.post("/v1/devices", json=fleet.inventory())
            fw = await upload(client)
            op_id = await start(client, rollout(fw, waves=[1, "100%"], approval="manual"))
            await wait_for_status(client, op_id, {"paused"}, timeout_s=60)
        # that process is gone (its lease expires); a new one takes the paused rollout over
        async with running_service(db_url) as (runtime, client):
            async def taken_over():
                return await runtime.pool.fetchval(
                    "SELECT claims FROM operations WHERE id = $1", uuid.UUID(op_id)) == 2
            await wait_until(taken_over, timeout_s=30)
            await asyncio.sleep(1.0)
            assert (await client.get(f"/v1/operations/{op_id}")).json()["status"] == "paused"
            assert sum(d.firmware_version == NEW for d in fleet.devices) == 1
            assert (await client.post(f"/v1/operations/{op_id}/resume")).status_code == 202
            op = await wait_for_status(client, op_id, timeout_s=60)
    assert op["status"] == "succeeded" and op["result"]["updated"] == 3
