"""One process's access control: who is asking, their budgets, and the audit of
what they asked. The runtime opens it, the middleware and the intake use it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Mapping

import asyncpg
import structlog

from gridjobs import background
from gridjobs.access.audit_writer import AuditWriter
from gridjobs.access.identity import Authenticator
from gridjobs.access.ratelimit import Budget, LeakyBuckets, Verdict
from gridjobs.access.roles import AccessRole, Principal
from gridjobs.errors import GridjobsError, RateLimited
from gridjobs.store.listener import Listener
from gridjobs.store.tokens import TOKENS_CHANNEL

KEEP_EVERY_S = 5.0   # re-LISTEN if the connection dropped; record last use of tokens
DEFAULT_BUDGET = Budget(rate_per_s=50.0, burst=200)

log = structlog.get_logger("gridjobs.access")


@dataclass
class AccessControl:
    authenticator: Authenticator
    audit: AuditWriter
    listener: Listener
    budgets: Mapping[AccessRole, Budget] = field(default_factory=dict)
    buckets: LeakyBuckets = field(default_factory=LeakyBuckets)
    _keeper: asyncio.Task | None = None

    @classmethod
    def open(cls, pool: asyncpg.Pool, dsn: str, authenticator: Authenticator,
             budgets: Mapping[AccessRole, Budget]) -> "AccessControl":
        listener = Listener(dsn, channels={TOKENS_CHANNEL: authenticator.forget},
                            on_connect=authenticator.forget_all)
        return cls(authenticator, AuditWriter(pool), listener, budgets)

    async def start(self) -> None:
        self.audit.start()
        await self._listen()
        self._keeper = background.start(self._keep(), name="gridjobs-access-keeper")

    async def close(self) -> None:
        if self._keeper is not None:
            await background.stop(self._keeper)
        await self.listener.stop()
        await self.audit.close()

    def budget_of(self, principal: Principal) -> Budget:
        """The most generous budget among the principal's roles."""
        budgets = [self.budgets.get(role, DEFAULT_BUDGET) for role in principal.roles] or [DEFAULT_BUDGET]
        return max(budgets, key=lambda b: (b.rate_per_s, b.burst))

    def spend(self, principal: Principal) -> None:
        """Take one request from the principal's budget; 429 when it is spent."""
        if principal.via == "scrape":
            return
        budget = self.budget_of(principal)
        verdict = self.buckets.take(principal.name, budget)
        if not verdict.allowed:
            raise RateLimited(f"{principal.name!r} is over its budget of {budget.rate_per_s:g} requests/s "
                              f"(burst {budget.burst}); retry in {math.ceil(verdict.retry_after_s)} s",
                              headers=rate_headers(budget, verdict))

    async def _listen(self) -> None:
        try:
            await self.listener.start()
        except GridjobsError as exc:  # the cache TTL bounds revocation until it comes back
            log.warning("token_listen_unavailable", error=str(exc))

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(KEEP_EVERY_S)
            if not self.listener.alive:
                await self._listen()
            try:
                await self.authenticator.flush_last_used()
            except GridjobsError as exc:
                log.warning("token_last_use_deferred", error=str(exc))


def rate_headers(budget: Budget, verdict: Verdict) -> dict[str, str]:
    """Retry-After, and the RateLimit / RateLimit-Policy fields of the IETF draft."""
    retry = max(1, math.ceil(verdict.retry_after_s))
    window = max(1, math.ceil(budget.window_s))
    return {"Retry-After": str(retry),
            "RateLimit-Policy": f'"budget";q={budget.burst};w={window}',
            "RateLimit": f'"budget";r={verdict.remaining};t={max(0, math.ceil(verdict.reset_s))}'}
