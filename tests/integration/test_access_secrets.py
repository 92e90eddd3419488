"""No API token and no JWT ever reaches a log line, a response, the audit or the store."""

from __future__ import annotations

import io
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from gridjobs import logs
from gridjobs.access import tokens
from tests.secrets_scan import assert_no_secret
from tests.support import running_service

SHED = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": ["F1"]}, "hold_s": 0}}
D1 = {"id": "d1", "profile": "controllable_load", "host": "127.0.0.1", "port": 1502, "unit_id": 1,
      "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}


async def test_tokens_and_jwts_stay_out_of_logs_answers_audit_and_rows(db_url, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k"}]}))
    stream = io.StringIO()
    logs.configure(stream=stream, level="debug")
    texts: list[str] = []
    try:
        async with running_service(db_url, execute=False, jwt_issuer="https://idp", jwt_audience="gj",
                                   jwt_jwks=str(tmp_path / "jwks.json")) as (runtime, admin):
            admin_token = admin.headers["authorization"].split()[1]
            texts.append((await admin.post("/v1/devices", json=[D1])).text)
            created = await admin.post("/v1/tokens", json={"name": "op", "roles": ["operator"], "feeders": ["F1"]})
            operator = created.json()["token"]
            now = int(time.time())
            jwt_token = jwt.encode({"iss": "https://idp", "aud": "gj", "sub": "bob", "exp": now + 60,
                                    "roles": ["viewer"], "feeders": "*"}, key, algorithm="RS256",
                                   headers={"kid": "k"})
            for token in (operator, jwt_token, operator[:-1] + "x", jwt_token[:-2] + "xx"):
                headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "scan"}
                for call in (admin.post("/v1/operations", json=SHED, headers=headers),
                             admin.post("/v1/devices", json=[D1], headers=headers),
                             admin.get("/v1/operations", headers=headers)):
                    answer = await call
                    texts += [answer.text, json.dumps(dict(answer.headers))]
            assert (await admin.delete("/v1/tokens/op")).status_code == 204
            texts.append((await admin.post("/v1/operations", json=SHED,
                                           headers={"Authorization": f"Bearer {operator}"})).text)
            texts.append((await admin.get("/v1/tokens")).text)
            await runtime.access.audit.close()
            runtime.access.audit.start()
            texts.append((await admin.get("/v1/audit/requests", params={"limit": 500})).text)
            for table in ("api_tokens", "request_audit", "operations"):
                texts += [repr(r) for r in await runtime.pool.fetch(f"SELECT * FROM {table}")]
    finally:
        logs.configure()
    texts.append(stream.getvalue())
    assert "token_created" in texts[-1]  # the log was captured
    secrets = [t.encode() for t in (admin_token, operator, jwt_token)]
    # the secret part of each API token (its id is public), and each JWT's signature
    secrets += [tokens.parse(t)[1].encode() for t in (admin_token, operator)]
    secrets.append(jwt_token.rsplit(".", 1)[1].encode())
    assert_no_secret(texts, secrets)
