"""Who is asking: a bearer credential resolved to a Principal, or 401.

API tokens are looked up by their public id and checked in constant time.
A verified token is cached for a short, bounded time (`cache_s`); a revoke
NOTIFYs every API process, which drops it at once, so revocation takes effect
on the next request (the TTL bounds it should a NOTIFY be missed while the
LISTEN connection is down). JWTs are verified by `JwtVerifier`. A separate
scrape token, if configured, opens /metrics alone.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Callable

import asyncpg

from gridjobs.access import tokens
from gridjobs.access.jwt_identity import JwtVerifier
from gridjobs.access.roles import AccessRole, Principal
from gridjobs.errors import Unauthorized
from gridjobs.store.tokens import TokenRecord, find_token, touch_tokens

CACHE_S = 5.0
KNOWN_ROLES = frozenset(AccessRole)
CACHE_ENTRIES = 10_000
SCRAPER = "metrics-scraper"


class Authenticator:
    def __init__(self, pool: asyncpg.Pool, *, jwt: JwtVerifier | None = None,
                 scrape_token: str | None = None, cache_s: float = CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool, self._jwt, self._cache_s, self._clock = pool, jwt, cache_s, clock
        self._scrape = tokens.digest(scrape_token) if scrape_token else None
        self._cache: OrderedDict[str, tuple[TokenRecord, float]] = OrderedDict()
        self._used: set[str] = set()

    async def principal(self, authorization: str | None) -> Principal:
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized("send an API token or a JWT as 'Authorization: Bearer <credential>'")
        credential = credential.strip()
        if self._scrape is not None and hmac.compare_digest(tokens.digest(credential), self._scrape):
            return Principal(SCRAPER, "scrape", frozenset())
        if tokens.looks_like_token(credential):
            return await self._token(credential)
        if self._jwt is not None and credential.count(".") == 2:
            return await self._jwt.principal(credential)
        raise Unauthorized("the bearer credential is not a valid token")

    def forget(self, token_id: str) -> None:
        """A revoke NOTIFY: drop the token from the cache."""
        self._cache.pop(token_id, None)

    def forget_all(self) -> None:
        """(Re)connected to the notifications: any revoke may have been missed."""
        self._cache.clear()

    async def flush_last_used(self) -> None:
        """Record the tokens used since the last flush (one statement; called periodically)."""
        used, self._used = self._used, set()
        await touch_tokens(self._pool, sorted(used))

    async def _token(self, credential: str) -> Principal:
        parsed = tokens.parse(credential)
        record = await self._record(parsed[0]) if parsed else None
        secret = parsed[1] if parsed else credential
        if not tokens.matches(secret, record.secret_sha256 if record else None):
            raise Unauthorized("invalid token")
        if record.revoked_at is not None:
            raise Unauthorized(f"token {record.name!r} was revoked")
        if record.expires_at is not None and record.expires_at <= datetime.now(timezone.utc):
            raise Unauthorized(f"token {record.name!r} expired at {record.expires_at.isoformat()}")
        self._used.add(record.id)
        return _principal_of(record)

    async def _record(self, token_id: str) -> TokenRecord | None:
        cached = self._cache.get(token_id)
        if cached is not None and self._clock() - cached[1] < self._cache_s:
            self._cache.move_to_end(token_id)
            return cached[0]
        record = await find_token(self._pool, token_id)
        if record is not None:
            self._cache[token_id] = (record, self._clock())
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return record


@functools.lru_cache(maxsize=CACHE_ENTRIES)
def _principal_of(record: TokenRecord) -> Principal:
    """A token's principal (records are frozen, so one principal per record)."""
    roles = frozenset(AccessRole(r) for r in record.roles if r in KNOWN_ROLES)
    feeders = None if record.feeders is None else frozenset(record.feeders)
    return Principal(record.name, "token", roles, feeders)
