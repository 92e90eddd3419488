"""Streams and the service's bounds: a stream holds no in-flight slot, streams have
their own bound, heartbeats flow while nothing happens, a bad Last-Event-ID or type
is refused, and only the principal's area is streamed (no Ray: intake only)."""

from __future__ import annotations

import asyncio

import httpx

from gridjobs.client import parse_sse
from gridjobs.store.database import create_pool
from tests.support import admin_headers, live_service

DEVICES = [{"id": f"d{f}", "profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
            "feeder": f, "shed_priority": 1, "protected": False, "rated_kw": 10.0} for f in ("F1", "F2")]


def shed(feeder: str) -> dict:
    return {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": [feeder]}, "hold_s": 0}}


async def _lines(base: str, headers: dict, path: str, n: int) -> list[str]:
    lines = []
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        async with http.stream("GET", path) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                lines.append(line)
                if len(lines) >= n:
                    return lines
    return lines


async def test_streams_are_bounded_apart_from_requests_in_flight(db_url):
    async with live_service(db_url, max_inflight=1, grid_inflight_reserve=0, max_streams=1,
                            stream_heartbeat_s=0.2) as (base, headers):
        held = asyncio.create_task(_lines(base, headers, "/v1/events", 2))
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            async def open_now():
                text = (await http.get("/metrics")).text
                return "gridjobs_event_streams_open 1.0" in text
            for _ in range(200):
                if await open_now():
                    break
                await asyncio.sleep(0.05)
            assert (await http.get("/v1/operations")).status_code == 200    # the stream took no slot
            second = await http.get("/v1/events")
            assert second.status_code == 503 and second.headers["retry-after"] == "5"
            assert second.json()["reason"] == "streams"
        lines = await asyncio.wait_for(held, 30)
    assert all(line.startswith(": ping") or line == "" for line in lines)   # heartbeats while idle


async def test_bad_last_event_ids_and_types_are_refused(db_url):
    async with live_service(db_url) as (base, headers):
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            bad_id = await http.get("/v1/events", headers={"Last-Event-ID": "x1"})
            bad_type = await http.get("/v1/events", params={"types": "operation.exploded"})
            no_op = await http.get("/v1/operations/00000000-0000-4000-8000-000000000000/events")
    assert bad_id.status_code == 400 and bad_type.status_code == 422 and no_op.status_code == 404


async def test_a_stream_sends_only_what_lies_in_the_principals_area(db_url):
    async with live_service(db_url, events_poll_s=0.1) as (base, headers):
        pool = await create_pool(db_url, min_size=1, max_size=1)
        try:
            north = await admin_headers(pool, name="north", roles=["viewer"], feeders=["F1"])
        finally:
            await pool.close()
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            assert (await http.post("/v1/devices", json=DEVICES)).status_code == 200
            elsewhere = (await http.post("/v1/operations", json=shed("F2"))).json()["id"]
            mine = (await http.post("/v1/operations", json=shed("F1"))).json()["id"]
            hidden = await http.get(f"/v1/operations/{elsewhere}/events", headers=north)
        seen = []
        async with httpx.AsyncClient(base_url=base, headers={**north, "Last-Event-ID": "1"}, timeout=30) as http:
            async with http.stream("GET", "/v1/events", params={"types": "operation.accepted"}) as response:
                async for event in parse_sse(response.aiter_lines()):
                    seen.append(event)
                    break
    assert hidden.status_code == 404
    assert [e.data["data"]["operation_id"] for e in seen] == [mine]
