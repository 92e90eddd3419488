"""JWT bearer tokens from a test issuer, with keys generated here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gridjobs.access.jwt_identity import JwtSettings, JwtVerifier
from gridjobs.access.roles import AccessRole
from gridjobs.errors import Unauthorized

ISSUER, AUDIENCE = "https://idp.test/realms/grid", "gridjobs"


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(key, tmp_path):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return JwtVerifier(JwtSettings(ISSUER, AUDIENCE, str(tmp_path / "jwks.json"),
                                   roles_claim="realm_access.roles"))


def claims(**changes):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
            "realm_access": {"roles": ["operator", "viewer", "not-a-gridjobs-role"]}, "feeders": ["F1"]}
    base.update(changes)
    return base


def signed(key, body, **headers):
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1", **headers})


async def test_a_valid_token_maps_roles_and_area(verifier, key):
    who = await verifier.principal(signed(key, claims()))
    assert who.name == "jwt:alice" and who.via == "jwt"
    assert who.roles == {AccessRole.OPERATOR, AccessRole.VIEWER} and who.feeders == {"F1"}
    every = await verifier.principal(signed(key, claims(feeders="*")))
    assert every.feeders is None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, body: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"


@pytest.mark.parametrize("case", ["signature", "issuer", "audience", "expired", "alg_none", "hs256_public"])
async def test_bad_tokens_are_refused(verifier, key, case):
    if case == "signature":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = signed(other, claims())
    elif case == "issuer":
        token = signed(key, claims(iss="https://evil.test"))
    elif case == "audience":
        token = signed(key, claims(aud="someone-else"))
    elif case == "expired":
        token = signed(key, claims(exp=int(time.time()) - 60))
    elif case == "alg_none":
        token = _unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, claims()) + "."
    else:  # HS256 "signed" with the public key as the HMAC secret
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        head = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims())
        token = head + "." + _b64(hmac.new(public, head.encode(), hashlib.sha256).digest())
    with pytest.raises(Unauthorized):
        await verifier.principal(token)
