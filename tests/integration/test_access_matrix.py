"""Every route and every kind, called as each role by a token whose area is F1 only.

The allowed and denied sets are exactly the issue's table; a denied request
is a 403 (401 without a valid identity) and writes no row, checked in the
database.
"""

from __future__ import annotations

import os

import pytest

from gridjobs.access.roles import AccessRole
from tests.support import admin_headers, running_service

R = AccessRole
READ = {R.VIEWER, R.OPERATOR, R.ENGINEER, R.INSTALLER}
D1 = {"id": "d1", "profile": "controllable_load", "host": "127.0.0.1", "port": 1502, "unit_id": 1,
      "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
D2 = {**D1, "id": "d2", "unit_id": 2, "feeder": "F2"}
RTU = {**D1, "id": "r1", "profile": "rtu", "unit_id": 3}
# Allowed calls that still fail for reasons of their own (this fixture's data), not access.
MAY_REFUSE = {("POST", "/v1/operations"),        # key_rotation: no secure device in scope, 422
              ("DELETE", "/v1/tokens/nobody")}   # no such token, 404
TABLES = ("operations", "devices", "firmware_artifacts", "api_tokens", "idempotency_keys")


def shed(feeders=("F1",)) -> dict:
    return {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": list(feeders)}, "hold_s": 0}}


@pytest.fixture
async def world(db_url):
    async with running_service(db_url, execute=False) as (runtime, admin):
        assert (await admin.post("/v1/devices", json=[D1, D2, RTU])).status_code == 200
        firmware = await admin.post("/v1/firmware", params={"version": "9.9.9", "profile": "rtu"},
                                    content=os.urandom(500), headers={"content-type": "application/octet-stream"})
        assert firmware.status_code == 201, firmware.text
        queued = (await admin.post("/v1/operations", json=shed())).json()["id"]
        tokens = {role: await admin_headers(runtime.pool, name=f"{role}-f1", roles=[role], feeders=["F1"])
                  for role in R}
        yield runtime, admin, tokens, firmware.json()["id"], queued


async def counts(runtime) -> dict[str, int]:
    return {t: await runtime.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


def calls(firmware_id: str, operation_id: str) -> list[tuple[str, str, dict, set | None]]:
    """(method, url, request options, roles that may); None: decided by kind."""
    rollout = {"kind": "firmware_rollout", "params": {"firmware_id": firmware_id, "scope": {"feeders": ["F1"]}}}
    octets = {"content": b"\x01" * 100, "headers": {"content-type": "application/octet-stream"}}
    return [
        ("GET", "/openapi.json", {}, set(R)),
        ("GET", "/metrics", {}, READ),
        ("GET", "/v1/operations", {}, READ | {R.SECADM}),
        ("GET", f"/v1/operations/{operation_id}", {}, READ | {R.SECADM}),
        ("GET", f"/v1/operations/{operation_id}/devices", {}, READ | {R.SECADM}),
        ("POST", "/v1/operations", {"json": shed()}, {R.OPERATOR}),
        ("POST", "/v1/operations?dry_run=true", {"json": shed()}, {R.OPERATOR}),
        ("POST", "/v1/operations", {"json": rollout}, {R.ENGINEER}),
        ("POST", "/v1/operations", {"json": {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1"]}}}},
         {R.SECADM}),
        ("POST", f"/v1/operations/{operation_id}/cancel", {}, {R.OPERATOR}),   # a load_shed
        ("GET", "/v1/devices", {}, READ),
        ("GET", "/v1/devices/d1", {}, READ),
        ("PUT", "/v1/devices/d9", {"json": {**D1, "id": "d9"}}, {R.INSTALLER}),
        ("POST", "/v1/devices", {"json": [{**D1, "id": "d8"}]}, {R.INSTALLER}),
        ("GET", "/v1/firmware", {}, READ),
        ("GET", f"/v1/firmware/{firmware_id}", {}, READ),
        ("POST", "/v1/firmware?version=9.9.10&profile=rtu", octets, {R.ENGINEER}),
        ("GET", "/v1/audit", {}, {R.SECAUD, R.SECADM}),
        ("GET", "/v1/audit/requests", {}, {R.SECAUD, R.SECADM}),
        ("GET", "/v1/tokens", {}, {R.SECADM}),
        ("POST", "/v1/tokens", {"json": {"name": "x-new", "roles": ["viewer"], "all_feeders": True}}, {R.SECADM}),
        ("DELETE", "/v1/tokens/nobody", {}, {R.SECADM}),
    ]


@pytest.mark.parametrize("role", list(R))
async def test_the_table_as_each_role(world, role):
    runtime, admin, tokens, firmware_id, operation_id = world
    allowed, denied = [], []
    for method, url, options, may in calls(firmware_id, operation_id):
        options = {**options, "headers": {**options.get("headers", {}), **tokens[role]}}
        before = await counts(runtime)
        answer = await admin.request(method, url, **options)
        if role in may:
            assert answer.status_code not in (401, 403), (role, method, url, answer.text)
            assert answer.status_code < 500 and (answer.status_code < 400 or (method, url) in MAY_REFUSE), \
                (role, method, url, answer.text)
            allowed.append((method, url))
        else:
            assert answer.status_code == 403, (role, method, url, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert await counts(runtime) == before, (role, method, url)  # a refusal writes nothing
            denied.append((method, url))
    assert allowed or role == R.SECAUD or denied


async def test_the_detail_names_the_missing_role_and_the_feeders_outside_the_area(world):
    _, admin, tokens, _, _ = world
    viewer = await admin.post("/v1/operations", json=shed(), headers=tokens[R.VIEWER])
    assert viewer.status_code == 403 and "operator" in viewer.json()["detail"]
    outside = await admin.post("/v1/operations", json=shed(("F1", "F2")), headers=tokens[R.OPERATOR])
    assert outside.status_code == 403 and outside.json()["feeders_outside_area"] == ["F2"]
    dry = await admin.post("/v1/operations?dry_run=true", json=shed(("F2",)), headers=tokens[R.OPERATOR])
    assert dry.status_code == 403  # a dry run is checked the same way


async def test_reads_show_only_the_area(world):
    _, admin, tokens, _, operation_id = world
    f2 = (await admin.post("/v1/operations", json=shed(("F2",)))).json()["id"]
    seen = (await admin.get("/v1/operations", headers=tokens[R.VIEWER])).json()["items"]
    assert operation_id in {o["id"] for o in seen} and f2 not in {o["id"] for o in seen}
    assert (await admin.get(f"/v1/operations/{f2}", headers=tokens[R.VIEWER])).status_code == 404
    devices = (await admin.get("/v1/devices", headers=tokens[R.VIEWER])).json()["items"]
    assert {d["id"] for d in devices} == {"d1", "r1"}
    assert (await admin.get("/v1/devices/d2", headers=tokens[R.VIEWER])).status_code == 404
    moved = await admin.put("/v1/devices/d1", json={**D1, "feeder": "F2"}, headers=tokens[R.INSTALLER])
    assert moved.status_code == 403  # an installer cannot move a device out of its area


@pytest.mark.parametrize("credential", [None, "Bearer", "Bearer gjt_0123456789abcdef_x", "Basic abc",
                                        "Bearer not-a-token", "Bearer a.b.c"])
async def test_no_valid_identity_is_a_401(world, credential):
    runtime, admin, _, _, _ = world
    before = await counts(runtime)
    answer = await admin.post("/v1/operations", json=shed(), headers={"Authorization": credential or ""})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["content-type"] == "application/problem+json"
    assert await counts(runtime) == before
    assert (await admin.get("/healthz", headers={"Authorization": ""})).status_code == 200
    assert (await admin.get("/readyz", headers={"Authorization": ""})).status_code in (200, 503)
