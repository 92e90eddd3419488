"""The audit log: append-only in the database, listed newest first by GET /v1/audit."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from gridjobs.errors import InvalidData
from gridjobs.device_keys.audit import AuditEntry, list_audit, record_audit
from tests.support import running_service

OP = uuid.uuid4()


def _entries(n: int, device_id: str = "dev-1", operation_id=OP) -> list[AuditEntry]:
    return [AuditEntry(operation_id, device_id, "stage", i, "ok", detail=f"step {i}")
            for i in range(n)]


async def test_entries_are_recorded_in_one_statement(pool):
    await record_audit(pool, _entries(3) + [AuditEntry(None, "dev-2", "verify", None, "failed")])
    await record_audit(pool, [])
    rows = await list_audit(pool, device_id=None, operation_id=None, before_id=None, limit=10)
    assert [(r.device_id, r.key_version) for r in rows] == [
        ("dev-2", None), ("dev-1", 2), ("dev-1", 1), ("dev-1", 0)]
    assert rows[0].operation_id is None and rows[1].operation_id == OP and rows[1].at is not None


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET outcome = 'ok' WHERE device_id = 'dev-1'",
    "DELETE FROM audit_log WHERE device_id = 'dev-1'",
    "TRUNCATE audit_log",
])
async def test_the_database_refuses_to_change_or_remove_entries(pool, statement):
    await record_audit(pool, _entries(2))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute(statement)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 2


async def test_a_malformed_batch_is_invalid_data_and_writes_nothing(pool):
    bad = [*_entries(2), AuditEntry("not-a-uuid", "dev-1", "x", None, "ok")]
    with pytest.raises(InvalidData):
        await record_audit(pool, bad)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_the_api_filters_and_pages_newest_first(db_url):
    other = uuid.uuid4()
    async with running_service(db_url, execute=False) as (runtime, client):
        await record_audit(runtime.pool, _entries(5) + _entries(2, "dev-2", other))
        everything = (await client.get("/v1/audit")).json()
        assert [e["device_id"] for e in everything["items"]] == ["dev-2"] * 2 + ["dev-1"] * 5
        assert everything["next_cursor"] is None
        ids = [e["id"] for e in everything["items"]]
        assert ids == sorted(ids, reverse=True)

        pages, cursor = [], None
        while True:
            params = {"device_id": "dev-1", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/audit", params=params)).json()
            pages.append([e["key_version"] for e in page["items"]])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [[4, 3], [2, 1], [0]]

        by_op = (await client.get("/v1/audit", params={"operation_id": str(other)})).json()
        assert {e["operation_id"] for e in by_op["items"]} == {str(other)}
        assert len(by_op["items"]) == 2
        assert set(by_op["items"][0]) == {"id", "at", "operation_id", "device_id", "step",
                                          "key_version", "outcome", "detail"}


@pytest.mark.parametrize("params, field", [
    ({"operation_id": "not-a-uuid"}, "operation_id"),
    ({"device_id": "has space"}, "device_id"),
    ({"limit": "0"}, "limit"),
    ({"cursor": "garbage!"}, "cursor"),
    ({"cursor": "WyJ4Il0"}, "cursor"),  # a valid encoding of ["x"]: not an id
])
async def test_a_bad_filter_is_a_422_problem(db_url, params, field):
    async with running_service(db_url, execute=False) as (_, client):
        response = await client.get("/v1/audit", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_the_audit_endpoint_is_in_the_openapi_document(db_url):
    async with running_service(db_url, execute=False) as (_, client):
        spec = (await client.get("/openapi.json")).json()
    assert "/v1/audit" in spec["paths"]
    assert {p["name"] for p in spec["paths"]["/v1/audit"]["get"]["parameters"]} == {
        "device_id", "operation_id", "limit", "cursor"}
