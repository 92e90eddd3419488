"""The device registry: upsert one, upsert a batch all-or-nothing, filter, page."""

from __future__ import annotations

import pytest

from tests.support import running_service


def device(i: int, **overrides) -> dict:
    body = {"id": f"dev-{i:03d}", "profile": "controllable_load", "host": "127.0.0.1",
            "port": 5020 + i % 2, "unit_id": 1 + i, "feeder": f"F{i % 3}",
            "shed_priority": 1 + i % 2, "protected": i % 5 == 0, "rated_kw": 10.0 + i}
    body.update(overrides)
    return body


@pytest.fixture
async def service(db_url):
    async with running_service(db_url, execute=False) as pair:
        yield pair


async def _count(runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM devices")


async def test_put_upserts_one_device(service):
    runtime, client = service
    body = {k: v for k, v in device(1).items() if k != "id"}
    assert (await client.put("/v1/devices/dev-001", json=body)).status_code == 200
    changed = await client.put("/v1/devices/dev-001", json={**body, "rated_kw": 99})
    assert changed.json()["rated_kw"] == 99
    assert (await client.get("/v1/devices/dev-001")).json() == {**body, "rated_kw": 99, "id": "dev-001"}
    assert await _count(runtime) == 1


async def test_put_rejects_mismatched_id_and_bad_fields(service):
    runtime, client = service
    r = await client.put("/v1/devices/dev-001", json=device(2))
    assert r.status_code == 422 and "path" in r.json()["detail"]
    r = await client.put("/v1/devices/dev-001", json={**device(1), "port": 70000})
    assert r.status_code == 422 and any(e["field"] == "port" for e in r.json()["errors"])
    r = await client.put("/v1/devices/dev-001", json={**device(1), "profile": "toaster"})
    assert r.status_code == 422 and "unknown device profile 'toaster'" in r.text
    assert await _count(runtime) == 0


async def test_batch_is_all_or_nothing(service):
    runtime, client = service
    good = [device(i) for i in range(10)]
    bad = good[:5] + [device(5, shed_priority=0)] + good[6:]
    r = await client.post("/v1/devices", json=bad)
    assert r.status_code == 422 and "5.shed_priority" in r.text
    r = await client.post("/v1/devices", json=good + [device(3)])
    assert r.status_code == 422 and "dev-003" in r.json()["detail"]
    assert await _count(runtime) == 0
    r = await client.post("/v1/devices", json=good)
    assert r.status_code == 200 and r.json() == {"upserted": 10}
    assert await _count(runtime) == 10


async def test_list_filters_and_cursor(service):
    _, client = service
    await client.post("/v1/devices", json=[device(i) for i in range(12)])
    f1 = (await client.get("/v1/devices", params={"feeder": "F1"})).json()["items"]
    assert {d["id"] for d in f1} == {f"dev-{i:03d}" for i in range(12) if i % 3 == 1}
    none = (await client.get("/v1/devices", params={"profile": "sunspec_der"})).json()["items"]
    assert none == []
    seen, cursor = [], None
    while True:
        page = (await client.get("/v1/devices", params={"limit": 5, **({"cursor": cursor} if cursor else {})})).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(f"dev-{i:03d}" for i in range(12))
