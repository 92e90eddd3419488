"""Identities through the API: expired and revoked tokens, JWTs from a test issuer,
the rate budget, the audit of every state-changing request, and the two-person rule."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gridjobs.access.roles import AccessRole
from tests.support import admin_headers, running_service

D1 = {"id": "d1", "profile": "controllable_load", "host": "127.0.0.1", "port": 1502, "unit_id": 1,
      "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
SHED = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": ["F1"]}, "hold_s": 0}}


async def test_expired_and_revoked_tokens_are_refused(db_url):
    async with running_service(db_url, execute=False) as (runtime, admin):
        viewer = await admin_headers(runtime.pool, name="v1", roles=["viewer"])
        assert (await admin.get("/v1/devices", headers=viewer)).status_code == 200
        assert (await admin.delete("/v1/tokens/v1")).status_code == 204
        refused = await admin.get("/v1/devices", headers=viewer)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        late = await admin_headers(runtime.pool, name="late", roles=["viewer"])
        await runtime.pool.execute("UPDATE api_tokens SET expires_at = now() - interval '1 s' WHERE name = 'late'")
        expired = await admin.get("/v1/devices", headers=late)
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]


@pytest.fixture
def issuer(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    return key, str(tmp_path / "jwks.json")


def token(key, **claims) -> str:
    now = int(time.time())
    body = {"iss": "https://idp.test", "aud": "gridjobs", "sub": "alice", "iat": now, "exp": now + 60,
            "roles": ["operator"], "feeders": ["F1"], **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


async def test_a_jwt_from_the_identity_provider(db_url, issuer):
    key, jwks = issuer
    async with running_service(db_url, execute=False, jwt_issuer="https://idp.test", jwt_audience="gridjobs",
                               jwt_jwks=jwks) as (_, admin):
        await admin.post("/v1/devices", json=[D1])
        alice = {"Authorization": f"Bearer {token(key)}"}
        accepted = await admin.post("/v1/operations", json=SHED, headers=alice)
        assert accepted.status_code == 202 and accepted.json()["submitted_by"] == "jwt:alice"
        assert (await admin.post("/v1/devices", json=[D1], headers=alice)).status_code == 403
        for bad in (token(key, aud="other"), token(key, iss="https://evil.test"), token(key, exp=1)):
            assert (await admin.get("/v1/operations", headers={"Authorization": f"Bearer {bad}"})).status_code == 401


async def test_a_spent_budget_is_a_429_and_an_emergency_shed_still_goes_through(db_url):
    async with running_service(db_url, execute=False, rate_limits="operator=1/3") as (runtime, admin):
        await admin.post("/v1/devices", json=[D1])
        op = await admin_headers(runtime.pool, name="op", roles=["operator"])
        answers = [await admin.get("/v1/operations", headers=op) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        refused = answers[3]
        assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        assert "q=3" in refused.headers["ratelimit-policy"] and "r=0" in refused.headers["ratelimit"]
        routine = await admin.post("/v1/operations", json=SHED, headers=op)
        assert routine.status_code == 429
        emergency = await admin.post("/v1/operations", json={**SHED, "priority": 90}, headers=op)
        assert emergency.status_code == 202  # emergency load shedding is never rate limited


async def test_every_state_changing_request_is_audited_allowed_or_denied(db_url):
    async with running_service(db_url, execute=False) as (runtime, admin):
        viewer = await admin_headers(runtime.pool, name="auditee", roles=["viewer"])
        assert (await admin.post("/v1/devices", json=[D1])).status_code == 200
        assert (await admin.post("/v1/operations", json=SHED, headers=viewer)).status_code == 403
        assert (await admin.post("/v1/operations", json=SHED,
                                 headers={"Authorization": "Bearer gjt_0000000000000000_" + "x" * 43})).status_code == 401
        accepted = await admin.post("/v1/operations", json=SHED, headers={"X-Request-ID": "req-7"})
        await runtime.access.audit.close()  # flush the batch; the writer restarts below
        runtime.access.audit.start()
        secaud = await admin_headers(runtime.pool, name="aud", roles=["secaud"])
        page = (await admin.get("/v1/audit/requests", headers=secaud)).json()["items"]
        seen = {(e["principal"], e["route"], e["status"]) for e in page}
        assert ("auditee", "/v1/operations", 403) in seen and (None, "/v1/operations", 401) in seen
        mine = next(e for e in page if e["request_id"] == "req-7")
        assert mine["status"] == 202 and mine["target"] == accepted.json()["id"]
        assert set(mine["roles"]) == {r.value for r in AccessRole}
        assert "gjt_" not in json.dumps(page)  # the credential itself is never kept
        assert (await admin.get("/v1/audit/requests", headers=viewer)).status_code == 403
