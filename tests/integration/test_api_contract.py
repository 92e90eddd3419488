"""The operations contract over real HTTP handling and a real Postgres.

Bad input gets problem+json with a useful detail, the right status and no
row; idempotency keys replay, conflict or refuse as the contract says.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support import running_service, wait_until

DEVICE = {"profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
          "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}


def shed(**overrides) -> dict:
    params = {"target_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0,
              "restore": {"stages": 1, "stage_delay_s": 0}, "revert_timeout_s": 30}
    params.update(overrides)
    return {"kind": "load_shed", "params": params}


@pytest.fixture
async def service(db_url):
    async with running_service(db_url, execute=False) as (runtime, client):
        assert (await client.put("/v1/devices/d1", json=DEVICE)).status_code == 200
        yield runtime, client


async def _rows(runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM operations")


def _assert_problem(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    for needle in needles:
        assert needle in json.dumps(body), (needle, body)
    assert "Traceback" not in response.text
    return body


async def test_submit_answers_202_with_locations_and_resource(service):
    runtime, client = service
    r = await client.post("/v1/operations", json=shed())
    assert r.status_code == 202
    op = r.json()
    assert r.headers["Location"] == r.headers["Operation-Location"] == f"/v1/operations/{op['id']}"
    assert int(r.headers["Retry-After"]) >= 1
    assert op["status"] == "queued" and op["kind"] == "load_shed" and op["priority"] == 0
    assert op["progress"] == {"total": 0, "succeeded": 0, "failed": 0, "pending": 0}
    assert op["params"]["revert_timeout_s"] == 30 and op["error"] is None
    import uuid
    assert uuid.UUID(op["id"]).version == 4
    got = await client.get(f"/v1/operations/{op['id']}")
    assert got.status_code == 200 and got.json()["id"] == op["id"] and "Retry-After" in got.headers
    assert await _rows(runtime) == 1


BAD_BODIES = [
    (b"{not json", 400, ["not valid JSON"]),
    (b"", 400, ["empty"]),
    (b"[1, 2]", 422, ["body"]),
    (json.dumps({"kind": "load_shed"}).encode(), 422, ["params"]),
    (json.dumps({"kind": "reboot_everything", "params": {}}).encode(), 422, ["unknown operation kind", "kind"]),
    (json.dumps(shed(target_kw=-5)).encode(), 422, ["params.target_kw"]),
    (json.dumps(shed(target_kw="lots")).encode(), 422, ["params.target_kw"]),
    (json.dumps(shed(hold_s=-1)).encode(), 422, ["params.hold_s"]),
    (json.dumps(shed(restore={"stages": 0})).encode(), 422, ["params.restore.stages"]),
    (json.dumps(shed(scope={})).encode(), 422, ["params.scope", "exactly one"]),
    (json.dumps(shed(scope={"feeders": ["F1"], "device_ids": ["d1"]})).encode(), 422, ["exactly one"]),
    (json.dumps(shed(scope={"device_ids": ["d1", "ghost-7"]})).encode(), 422, ["ghost-7", "params.scope"]),
    (json.dumps(shed(scope={"feeders": ["F404"]})).encode(), 422, ["F404"]),
    (json.dumps(shed(surprise=1)).encode(), 422, ["params.surprise"]),
    (json.dumps({**shed(), "priority": 10_000}).encode(), 422, ["priority"]),
]


@pytest.mark.parametrize("body,status,needles", BAD_BODIES)
async def test_bad_submissions_are_problems_and_write_nothing(service, body, status, needles):
    runtime, client = service
    r = await client.post("/v1/operations", content=body,
                          headers={"content-type": "application/json", "Idempotency-Key": "k1"})
    _assert_problem(r, status, *needles)
    assert await _rows(runtime) == 0
    assert await runtime.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_field_errors_list_the_field(service):
    _, client = service
    body = _assert_problem(await client.post("/v1/operations", json=shed(target_kw=0)), 422)
    assert any(e["field"] == "params.target_kw" for e in body["errors"])


async def test_body_over_one_mib_is_413(service):
    runtime, client = service
    big = json.dumps(shed(note="x" * (1024 * 1024)))
    _assert_problem(await client.post("/v1/operations", content=big,
                                      headers={"content-type": "application/json"}), 413, "limit")

    async def chunks():
        for _ in range(40):
            yield b" " * 32768
    _assert_problem(await client.post("/v1/operations", content=chunks()), 413)
    assert await _rows(runtime) == 0


async def test_unknown_ids_wrong_methods_and_unknown_routes(service):
    _, client = service
    missing = "00000000-0000-4000-8000-000000000000"
    _assert_problem(await client.get(f"/v1/operations/{missing}"), 404, missing)
    _assert_problem(await client.get("/v1/operations/not-a-uuid"), 404, "not-a-uuid")
    _assert_problem(await client.get(f"/v1/operations/{missing}/devices"), 404)
    _assert_problem(await client.post(f"/v1/operations/{missing}/cancel"), 404)
    _assert_problem(await client.get("/v1/devices/nope"), 404, "nope")
    r = _assert_problem(await client.delete("/v1/operations"), 405, "DELETE")
    _assert_problem(await client.put("/v1/operations"), 405)
    _assert_problem(await client.get("/v2/anything"), 404)
    for query in ("limit=0", "limit=abc", "limit=100000", "status=bogus", "kind=bogus", "cursor=%%%"):
        _assert_problem(await client.get(f"/v1/operations?{query}"), 422)


async def test_cancel_queued_then_terminal_is_409(service):
    runtime, client = service
    op = (await client.post("/v1/operations", json=shed())).json()
    r = await client.post(f"/v1/operations/{op['id']}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert r.json()["finished_at"] is not None
    _assert_problem(await client.post(f"/v1/operations/{op['id']}/cancel"), 409, "cancelled")
    assert await runtime.pool.fetchval("SELECT started_at FROM operations") is None


async def test_same_key_same_body_replays(service):
    runtime, client = service
    first = await client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "abc"})
    again = await client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "abc"})
    alias = await client.post("/v1/operations", json=shed(), headers={"X-Request-ID": "abc"})
    assert first.status_code == again.status_code == alias.status_code == 202
    assert first.json()["id"] == again.json()["id"] == alias.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _rows(runtime) == 1
    expires = await runtime.pool.fetchval("SELECT expires_at - created_at FROM idempotency_keys")
    assert expires.total_seconds() >= 24 * 3600


async def test_same_key_different_body_is_422(service):
    runtime, client = service
    await client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "abc"})
    r = await client.post("/v1/operations", json=shed(target_kw=6), headers={"Idempotency-Key": "abc"})
    _assert_problem(r, 422, "different")
    assert await _rows(runtime) == 1


async def test_same_key_in_flight_is_409(service):
    runtime, client = service
    async with runtime.pool.acquire() as conn, conn.transaction():
        # What an in-flight first request holds while it is being processed.
        assert await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended('abc', 0))")
        r = await client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "abc"})
        _assert_problem(r, 409, "still being processed")
    assert await _rows(runtime) == 0
    r = await client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "abc"})
    assert r.status_code == 202


async def test_concurrent_same_key_posts_make_exactly_one_row(service):
    runtime, client = service
    responses = await asyncio.gather(*[
        client.post("/v1/operations", json=shed(), headers={"Idempotency-Key": "race"})
        for _ in range(16)
    ])
    codes = [r.status_code for r in responses]
    assert set(codes) <= {202, 409} and 202 in codes
    ids = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(ids) == 1
    assert await _rows(runtime) == 1


async def test_list_operations_newest_first_with_cursor(service):
    _, client = service
    made = [(await client.post("/v1/operations", json=shed(target_kw=t))).json()["id"] for t in (1, 2, 3, 4, 5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/operations", params=params)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made[::-1]
    queued = (await client.get("/v1/operations", params={"status": "queued", "kind": "load_shed"})).json()
    assert len(queued["items"]) == 5


async def test_dry_run_plans_without_writing(service):
    runtime, client = service
    r = await client.post("/v1/operations?dry_run=true", json=shed(target_kw=5))
    assert r.status_code == 200, r.text
    plan = r.json()["plan"]
    assert [d["device_id"] for d in plan["devices"]] == ["d1"] and plan["shortfall_kw"] == 0
    assert plan["restore_stages"] == [["d1"]]
    assert await _rows(runtime) == 0


async def test_service_endpoints(service):
    _, client = service
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["postgres"] == "ok"
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/operations" in spec["paths"]
    assert "LoadShedParams" in spec["components"]["schemas"]
    assert "target_kw" in spec["components"]["schemas"]["LoadShedParams"]["properties"]
    metrics = await client.get("/metrics")
    assert "gridjobs_http_requests_total" in metrics.text


async def test_readiness_names_a_background_loop_that_died(service):
    runtime, client = service

    async def broken() -> None:
        raise RuntimeError("relay broke near key material sk-0123")

    runtime.outbox.relay.drain = broken   # the relay's next pass raises what it does not expect
    runtime.outbox.relay.wake()

    async def not_ready() -> bool:
        return (await client.get("/readyz")).status_code == 503

    await wait_until(not_ready, timeout_s=10, interval_s=0.05)
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["background"] == "failed: gridjobs-outbox-relay (RuntimeError)"
    assert ready.json()["checks"]["postgres"] == "ok" and "sk-0123" not in ready.text


async def test_der_curtailment_needs_der_devices_in_scope(service):
    runtime, client = service
    body = {"kind": "der_curtailment",
            "params": {"limit_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0}}
    _assert_problem(await client.post("/v1/operations", json=body), 422, "DER", "params.scope")
    body["params"]["reduce_kw"] = 3
    _assert_problem(await client.post("/v1/operations", json=body), 422, "exactly one")
    assert await _rows(runtime) == 0
