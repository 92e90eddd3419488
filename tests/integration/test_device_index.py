"""The intake's scope check answered from the device registry in memory: loaded once,
dropped when the registry changes (at once in this process, by NOTIFY from others),
and never the last word on a refusal."""

from __future__ import annotations

import pytest

from tests.support import running_service, wait_until

DEVICE = {"profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
          "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
INSERT = """INSERT INTO devices (id, profile, host, port, unit_id, feeder, shed_priority, protected, rated_kw)
            VALUES ($1, 'controllable_load', '127.0.0.1', 5020, 1, $2, 1, false, 10.0)"""


def shed(*feeders: str) -> dict:
    return {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": list(feeders)}, "hold_s": 0}}


@pytest.fixture
async def service(db_url):
    async with running_service(db_url, execute=False) as (runtime, client):
        assert (await client.put("/v1/devices/d1", json=DEVICE)).status_code == 200
        yield runtime, client


async def test_submissions_read_the_registry_once(service):
    runtime, client = service
    index = runtime.devices_index
    await wait_until(lambda: _true(index.notified >= 1), timeout_s=10)   # the fixture's PUT, echoed
    before = index.loads
    for n in range(5):
        r = await client.post("/v1/operations", json=shed("F1"), headers={"Idempotency-Key": f"k{n}"})
        assert r.status_code == 202, r.text
    assert index.loads == before + 1
    assert await runtime.pool.fetchval("SELECT count(*) FROM operations") == 5


async def test_an_upsert_in_this_process_is_seen_by_the_next_submission(service):
    runtime, client = service
    index = runtime.devices_index
    assert (await client.post("/v1/operations", json=shed("F1"))).status_code == 202
    loads = index.loads
    assert (await client.put("/v1/devices/d2", json={**DEVICE, "feeder": "F2"})).status_code == 200
    r = await client.post("/v1/operations", json=shed("F2"))
    assert r.status_code == 202, r.text
    assert r.json()["feeders"] == ["F2"]
    assert index.loads == loads + 1


async def test_another_process_change_arrives_by_notify(service):
    runtime, client = service
    index = runtime.devices_index
    await wait_until(lambda: _true(index.usable), timeout_s=10)
    assert (await client.post("/v1/operations", json=shed("F1"))).status_code == 202
    loads = index.loads
    async with runtime.pool.acquire() as conn, conn.transaction():   # as another process writes
        await conn.execute(INSERT, "d9", "F9")
        await conn.execute("SELECT pg_notify('gridjobs_devices', '')")
    await wait_until(lambda: _true(index._devices is None), timeout_s=10, interval_s=0.01)
    r = await client.post("/v1/operations", json=shed("F9"))
    assert r.status_code == 202, r.text
    assert index.loads == loads + 1


async def test_a_scope_the_index_does_not_know_is_asked_of_the_registry(service):
    runtime, client = service
    assert (await client.post("/v1/operations", json=shed("F1"))).status_code == 202
    await runtime.pool.execute(INSERT, "d7", "F7")   # no NOTIFY: the index still lacks it
    r = await client.post("/v1/operations", json=shed("F7"))
    assert r.status_code == 202, r.text
    r = await client.post("/v1/operations", json=shed("F8"))   # unknown everywhere: still a 422
    assert r.status_code == 422 and "unknown feeder" in r.text


async def _true(value: bool) -> bool:
    return value
