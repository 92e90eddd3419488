"""Events end to end: a load shed on real Ray shards and a simulated fleet, its
events pushed to a verifying receiver and followed as Server-Sent Events."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gridjobs.client import Client, parse_sse
from gridjobs.device_keys import ensure_master_key
from simulators import Fleet
from tests.receiver import Receiver, receiving
from tests.support import live_service, running_service, serving, wait_for_status, wait_until

OPERATION_TYPES = ["operation.accepted", "operation.started", "operation.paused", "operation.resumed",
                   "operation.progress", "operation.succeeded", "operation.failed", "operation.cancelled"]


@pytest.fixture
async def fleet():
    async with serving(Fleet.build(devices=24, gateways=2, host="127.0.0.1", port=0, seed=5,
                                   feeders=2)) as f:
        yield f


def shed(fleet, **params) -> dict:
    kw = sum(d.measured_kw() for d in fleet.devices if not d.spec.protected)
    base = {"target_kw": round(kw * 0.5, 1), "scope": {"feeders": ["F1", "F2"]}, "hold_s": 0,
            "restore": {"stages": 2, "stage_delay_s": 0.2}, "revert_timeout_s": 30}
    return {"kind": "load_shed", "params": {**base, **params}}


async def test_a_load_shed_reaches_the_receiver_in_order_and_signed(db_url, fleet, ray_local, tmp_path):
    key = ensure_master_key(tmp_path / "master.key").path
    async with running_service(db_url, master_key_file=key, events_poll_s=0.1) as (runtime, client):
        assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
        async with receiving(Receiver()) as receiver:
            r = await client.post("/v1/webhooks", json={"url": receiver.url, "event_types": OPERATION_TYPES})
            receiver.secrets["it"] = r.json()["secret"]
            op_id = (await client.post("/v1/operations", json=shed(fleet))).json()["id"]
            assert (await wait_for_status(client, op_id))["status"] == "succeeded"

            async def finished():
                return bool(receiver.of_type("operation.succeeded"))
            await wait_until(finished, timeout_s=30)
    types = [a.payload["type"] for a in receiver.arrivals]
    assert types[:2] == ["operation.accepted", "operation.started"] and types[-1] == "operation.succeeded"
    assert "operation.progress" in types and set(types) <= {"operation.accepted", "operation.started",
                                                            "operation.progress", "operation.succeeded"}
    event_ids = [int(a.id.removeprefix("evt_")) for a in receiver.arrivals]
    assert event_ids == sorted(event_ids) and len(set(event_ids)) == len(event_ids)   # in order, once each
    assert all(a.verified == {"it": True} for a in receiver.arrivals)
    assert all(a.payload["data"]["operation_id"] == op_id for a in receiver.arrivals)
    final = receiver.of_type("operation.succeeded")[0].payload["data"]
    assert final["progress"]["pending"] == 0 and final["progress"]["total"] > 0
    last_progress = receiver.of_type("operation.progress")[-1].payload["data"]["progress"]
    assert last_progress["total"] > 0


async def _read(base: str, headers: dict, path: str, *, after: int | None = None,
                stop_after: int | None = None) -> list:
    """Events of one stream connection; hang up after `stop_after` of them."""
    seen = []
    extra = {"Last-Event-ID": str(after)} if after else {}
    async with httpx.AsyncClient(base_url=base, headers={**headers, **extra}, timeout=30) as http:
        async with http.stream("GET", path) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in parse_sse(response.aiter_lines()):
                seen.append(event)
                if stop_after is not None and len(seen) >= stop_after:
                    break
    return seen


async def test_a_stream_resumed_with_last_event_id_sees_every_event_once(db_url, fleet, ray_local):
    async with live_service(db_url, execute=True, events_poll_s=0.1) as (base, headers):
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            assert (await http.post("/v1/devices", json=fleet.inventory())).status_code == 200
            body = shed(fleet, hold_s=1.5, restore={"stages": 3, "stage_delay_s": 0.3})
            op_id = (await http.post("/v1/operations", json=body)).json()["id"]
            path = f"/v1/operations/{op_id}/events"
            first = await _read(base, headers, path, stop_after=2)          # then hang up mid-operation
            assert (await http.get(f"/v1/operations/{op_id}")).json()["status"] not in ("succeeded", "failed")
            rest = await _read(base, headers, path, after=first[-1].id)     # ends after the terminal event
            again = await _read(base, headers, path, after=rest[-1].id)     # nothing after the end
            everything = await _read(base, headers, path)                   # from the start
    ids = [e.id for e in first + rest]
    assert ids == [e.id for e in everything] and len(set(ids)) == len(ids) == len(everything)
    assert again == []
    assert first[0].type == "operation.accepted" and rest[-1].type == "operation.succeeded"
    assert all(e.data["data"]["operation_id"] == op_id for e in first + rest)


async def test_the_client_follows_the_stream_and_a_foreign_area_sees_nothing(db_url, fleet, ray_local):
    from tests.support import admin_headers
    from gridjobs.store.database import create_pool
    async with live_service(db_url, execute=True, events_poll_s=0.1) as (base, headers):
        pool = await create_pool(db_url, min_size=1, max_size=1)
        try:
            elsewhere = await admin_headers(pool, name="elsewhere", roles=["viewer"], feeders=["F9"])
        finally:
            await pool.close()
        token = headers["Authorization"].removeprefix("Bearer ")
        async with Client(base, token=token) as client:
            await client.request("POST", "/v1/devices", json=fleet.inventory())
            op = await client.submit(shed(fleet))
            tail = asyncio.create_task(_read(base, elsewhere, "/v1/events", stop_after=1))
            updates: list[dict] = []
            final = await client.follow(op["id"], on_update=updates.append, timeout_s=60)
            await asyncio.sleep(0.5)
            quiet = not tail.done()      # F9's viewer saw none of the F1/F2 shed's events
            tail.cancel()
            await asyncio.gather(tail, return_exceptions=True)
    assert quiet
    assert final["status"] == "succeeded"
    assert [u["status"] for u in updates][-1] == "succeeded" and "running" in [u["status"] for u in updates]
