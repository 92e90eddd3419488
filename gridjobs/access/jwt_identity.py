"""JWT bearer tokens from an external identity provider (Keycloak, ADFS, Entra ID).

Verified by PyJWT against the configured issuer, audience and JWKS (a file,
or a URL fetched and cached for a bounded lifetime). Only asymmetric
algorithms are accepted: `alg: none` and HMAC (an HS256 token "signed" with
the public key) are refused before any key is looked at.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from gridjobs.access.roles import AccessRole, Principal
from gridjobs.errors import Unauthorized

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
JWKS_LIFETIME_S = 300.0     # how long a fetched key set is trusted before it is fetched again
JWKS_TIMEOUT_S = 5.0
ALL_FEEDERS = "*"           # a feeders claim of "*" (alone) means every feeder


@dataclass(frozen=True)
class JwtSettings:
    issuer: str
    audience: str
    jwks: str                       # a file path, or an https:// (or http:// loopback) URL
    roles_claim: str = "roles"      # dotted path, e.g. realm_access.roles for Keycloak
    feeders_claim: str = "feeders"


class JwtVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        if settings.jwks.startswith(("https://", "http://")):
            self._client: jwt.PyJWKClient | None = jwt.PyJWKClient(
                settings.jwks, cache_jwk_set=True, lifespan=JWKS_LIFETIME_S, timeout=JWKS_TIMEOUT_S)
            self._keys: jwt.PyJWKSet | None = None
        else:
            self._client, self._keys = None, jwt.PyJWKSet.from_json(Path(settings.jwks).read_text())

    async def principal(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise Unauthorized(f"JWT algorithm {str(header.get('alg'))[:20]!r} is not accepted")
            key = await self._key(token, header)
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS), audience=self.settings.audience,
                                issuer=self.settings.issuer,
                                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid JWT: {type(exc).__name__}") from None
        return self._principal(claims)

    async def _key(self, token: str, header: dict[str, Any]) -> Any:
        if self._client is not None:
            return (await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)).key
        kid = header.get("kid")
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError("no key in the JWKS matches the token's kid")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        roles = {r for r in _strings(_claim(claims, self.settings.roles_claim)) if r in set(AccessRole)}
        feeders = _strings(_claim(claims, self.settings.feeders_claim))
        area = None if feeders == [ALL_FEEDERS] else frozenset(feeders)
        return Principal(f"jwt:{str(claims['sub'])[:128]}", "jwt",
                         frozenset(AccessRole(r) for r in roles), area)


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
