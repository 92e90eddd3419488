"""Hostile input never gets a 500, never writes, never leaks, and never breaks the connection.

The app runs under a real uvicorn on loopback and the client holds one
keep-alive connection: after every refused request, a normal request on the
same TCP connection must still be served.
"""

from __future__ import annotations

import json

import httpx
import pytest
from structlog.testing import capture_logs

from gridjobs.errors import InvalidData
from gridjobs.store.devices import get_device, list_devices
from tests.support import live_service, running_service

DEVICE = {"profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
          "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
SHED = {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0}}
JSON = {"content-type": "application/json"}
JSON_ROUTES = [("POST", "/v1/operations"), ("POST", "/v1/devices"), ("PUT", "/v1/devices/d2")]
LISTS = ["/v1/operations", "/v1/devices", "/v1/firmware", "/v1/audit",
         "/v1/operations/00000000-0000-4000-8000-000000000000/devices"]


@pytest.fixture
async def live(db_url, pool):
    async with live_service(db_url) as (base, headers):
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers=headers) as client:
            assert (await client.put("/v1/devices/d1", json=DEVICE)).status_code == 200
            yield Refusals(client, pool, await _rows(pool))


async def _rows(pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("operations", "devices", "idempotency_keys")}


def _connection(response: httpx.Response) -> tuple:
    return response.extensions["network_stream"].get_extra_info("client_addr")


class Refusals:
    def __init__(self, client: httpx.AsyncClient, pool, rows: dict[str, int]) -> None:
        self.client, self.pool, self.rows = client, pool, rows

    async def check(self, method: str, url: str, status: int, *needles: str, **kwargs) -> dict:
        """The request is refused as a problem naming `needles`, writes nothing, and the
        connection it came on serves the next request."""
        r = await self.client.request(method, url, **kwargs)
        assert r.status_code == status, r.text[:2000]
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == status and body["title"] and body["type"] and body["detail"]
        for needle in needles:
            assert needle in json.dumps(body), (needle, body)
        assert "Traceback" not in r.text and "asyncpg" not in r.text
        assert await _rows(self.pool) == self.rows
        after = await self.client.get("/v1/devices/d1")
        assert after.status_code == 200 and after.json()["id"] == "d1"
        assert _connection(after) == _connection(r), "the refused request cost its connection"
        return body


async def test_deep_nesting_is_400_on_every_json_route(live):
    deep = b"[" * 10_000 + b"]" * 10_000
    for method, url in JSON_ROUTES:
        await live.check(method, url, 400, "deeper than 64", content=deep, headers=JSON)
    nested = {"kind": "load_shed", "params": {"scope": {"feeders": ["F1"]}, "x": 1}}
    for _ in range(70):
        nested = {"a": nested}
    await live.check("POST", "/v1/operations", 400, "deeper than 64", json=nested)


async def test_integers_past_the_conversion_limit_are_refused(live):
    digits = "9" * 5000
    body = f'{{"kind": "load_shed", "params": {{"target_kw": {digits}}}}}'
    await live.check("POST", "/v1/operations", 400, "more than 100 digits", content=body, headers=JSON)
    await live.check("PUT", "/v1/devices/d2", 400, "more than 100 digits",
                     content=json.dumps(DEVICE).replace('"port": 5020', f'"port": {digits}'), headers=JSON)
    for url in LISTS:
        await live.check("GET", f"{url}?limit={digits}", 422, '"field": "limit"')
    await live.check("POST", f"/v1/operations?dry_run={digits}", 422, "dry_run", json=SHED)


async def test_nul_bytes_are_refused_at_validation(live):
    await live.check("GET", "/v1/devices/d%001", 404, "does not exist", "\\\\x00")
    await live.check("PUT", "/v1/devices/d%001", 422, '"field": "id"', json=DEVICE)
    for field in ("host", "feeder", "profile"):
        await live.check("PUT", "/v1/devices/d2", 422, f'"field": "{field}"', "control characters",
                         json={**DEVICE, field: "a\x00b"})
    await live.check("POST", "/v1/devices", 422, "0.feeder", json=[{**DEVICE, "id": "d3", "feeder": "\x00"}])
    for scope in ({"feeders": ["F1\x00"]}, {"device_ids": ["d1", "d\x00"]}):
        name = next(iter(scope))
        await live.check("POST", "/v1/operations", 422, f"params.scope.{name}", "U+0000",
                         json={**SHED, "params": {**SHED["params"], "scope": scope}})
    await live.check("POST", "/v1/operations", 422, "kind", "control characters",
                     json={**SHED, "kind": "load_shed\x00"})
    for url, name in [("/v1/devices", "feeder"), ("/v1/devices", "profile"), ("/v1/firmware", "profile"),
                      ("/v1/audit", "device_id"), ("/v1/operations", "status")]:
        await live.check("GET", f"{url}?{name}=a%00", 422, f'"field": "{name}"')
    await live.check("GET", "/v1/operations/%00", 404, "ids are UUIDs")
    await live.check("POST", "/v1/operations", 422, "Idempotency-Key", "control characters",
                     json=SHED, headers={"Idempotency-Key": b"k\x85"})


async def test_duplicate_keys_are_refused_naming_the_key(live):
    body = ('{"kind": "load_shed", "params": {"target_kw": 1, "target_kw": 400, '
            '"scope": {"feeders": ["F1"]}, "hold_s": 0}}')
    await live.check("POST", "/v1/operations", 400, "duplicate key 'target_kw'", content=body, headers=JSON)
    await live.check("POST", "/v1/operations", 400, "duplicate key 'kind'", headers=JSON,
                     content='{"kind": "load_shed", "kind": "key_rotation", "params": {}}')
    batch = json.dumps([{**DEVICE, "id": "d3"}]).replace('"feeder": "F1"', '"feeder": "F1", "feeder": "F9"')
    await live.check("POST", "/v1/devices", 400, "duplicate key 'feeder'", content=batch, headers=JSON)
    await live.check("GET", "/v1/devices?limit=1&limit=500", 400, "'limit' is given more than once")


@pytest.mark.parametrize("change,field", [
    ({"priority": False}, "priority"),
    ({"priority": "5"}, "priority"),
    ({"params": {**SHED["params"], "target_kw": True}}, "params.target_kw"),
    ({"params": {**SHED["params"], "target_kw": "5"}}, "params.target_kw"),
    ({"params": {**SHED["params"], "revert_timeout_s": 30.5}}, "params.revert_timeout_s"),
    ({"params": {**SHED["params"], "restore": {"stages": True}}}, "params.restore.stages"),
])
async def test_numbers_and_flags_are_strict_in_operations(live, change, field):
    await live.check("POST", "/v1/operations", 422, f'"field": "{field}"', json={**SHED, **change})


@pytest.mark.parametrize("change,field", [
    ({"protected": 1}, "protected"), ({"protected": "false"}, "protected"), ({"port": "5020"}, "port"),
    ({"port": True}, "port"), ({"rated_kw": False}, "rated_kw"), ({"rated_kw": "10"}, "rated_kw"),
])
async def test_numbers_and_flags_are_strict_in_devices(live, change, field):
    await live.check("PUT", "/v1/devices/d2", 422, f'"field": "{field}"', json={**DEVICE, **change})


async def test_a_float_field_still_takes_a_json_integer(live):
    r = await live.client.post("/v1/operations?dry_run=true", json=SHED)  # target_kw is 5, an integer
    assert r.status_code == 200, r.text
    assert (await live.client.put("/v1/devices/d1", json={**DEVICE, "rated_kw": 12})).json()["rated_kw"] == 12


HUGE = "x" * (900 * 1024)


@pytest.mark.parametrize("method,url,kwargs", [
    ("POST", "/v1/operations", {"json": {**SHED, "kind": HUGE}}),
    ("POST", "/v1/operations", {"json": {**SHED, "params": {**SHED["params"], HUGE: 1}}}),
    ("POST", "/v1/operations", {"json": {**SHED, HUGE: 1}}),
    ("POST", "/v1/operations", {"json": {"kind": "firmware_rollout", "params": {"waves": [HUGE]}}}),
    ("PUT", "/v1/devices/d2", {"json": {**DEVICE, "profile": HUGE}}),
    ("PUT", "/v1/devices/d2", {"json": {**DEVICE, "id": HUGE}}),
    ("GET", "/v1/devices?cursor=" + "A" * 7000, {}),
    ("GET", f"/v1/devices/{'x' * 7000}", {}),
])
async def test_errors_never_quote_more_than_a_bounded_excerpt(live, method, url, kwargs):
    status = 404 if url.startswith("/v1/devices/x") else 422
    body = await live.check(method, url, status, **kwargs)
    for text in [body["detail"], *(e["message"] for e in body.get("errors", ())),
                 *(e["field"] for e in body.get("errors", ()))]:
        assert len(text) <= 1001, text[:100]
        assert "x" * 250 not in text and "A" * 250 not in text


async def test_unknown_kinds_are_quoted_in_bounds(live):
    body = await live.check("POST", "/v1/operations", 422, "unknown operation kind",
                            json={**SHED, "kind": "k" * 64})
    assert "k" * 64 in body["detail"]


async def test_allow_lists_every_method_of_the_path(live):
    r = await live.client.options("/v1/operations")
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    r = await live.client.options("/v1/devices/d1")
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS, PUT"
    body = await live.check("DELETE", "/v1/devices/d1", 405, "DELETE is not allowed")
    assert body["status"] == 405
    r = await live.client.delete("/v1/operations")
    assert r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    r = await live.client.put("/v1/firmware/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
    await live.check("OPTIONS", "/v2/nothing", 404, "no route matches")


async def test_the_store_refuses_data_as_422_not_503_and_logs_no_value(pool):
    with capture_logs() as logged:
        with pytest.raises(InvalidData) as caught:
            await get_device(pool, "secret\x00")
        with pytest.raises(InvalidData):
            await list_devices(pool, feeder=None, profile=None, after=None, limit=10**20)
    assert caught.value.status == 422 and "CharacterNotInRepertoire" not in caught.value.detail
    assert [e["event"] for e in logged] == ["store_refused_data"] * 2
    assert logged[0]["error_type"] == "CharacterNotInRepertoireError" and logged[1]["argument"] == "$4"
    assert "secret" not in repr(logged) and "100000000000000000000" not in repr(logged)


async def test_an_outage_is_503_with_retry_after_and_no_driver_text(db_url):
    async with running_service(db_url, execute=False) as (runtime, client):
        await runtime.pool.close()
        for url in ("/v1/devices", "/v1/operations", "/v1/devices/d1"):
            r = await client.get(url)
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert int(r.headers["retry-after"]) >= 1
            assert "retry later" in r.json()["detail"]
            assert "Error" not in r.json()["detail"] and "pool" not in r.json()["detail"]
