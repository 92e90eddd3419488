"""Request budgets per principal: a leaky bucket (GCRA), per process.

Each principal's bucket holds `burst` requests and leaks `rate_per_s`. The
state is per process on purpose: checking a shared bucket in Postgres would
cost a round trip per request. With N API processes behind a balancer a
principal gets up to N times its budget; size the budget as what one
process may take (README, "Rate limits"). The table of budgets is bounded:
buckets idle long enough to be full again are dropped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

MAX_BUCKETS = 10_000


@dataclass(frozen=True)
class Budget:
    rate_per_s: float   # sustained requests per second
    burst: int          # requests that may come at once

    @property
    def window_s(self) -> float:
        """How long a full bucket takes to drain: the policy's window."""
        return self.burst / self.rate_per_s


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after_s: float   # when the next request fits (0 if allowed)
    reset_s: float         # when the bucket is empty again


class LeakyBuckets:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, float] = {}   # theoretical arrival time per principal

    def take(self, key: str, budget: Budget) -> Verdict:
        now, interval = self._clock(), 1.0 / budget.rate_per_s
        tat = max(self._tat.get(key, now), now)
        tolerance = (budget.burst - 1) * interval
        if tat - now > tolerance + 1e-9:   # the bucket is full: wait until one request leaked
            return Verdict(False, 0, tat - now - tolerance, tat - now)
        self._tat[key] = tat + interval
        self._prune(now)
        backlog = self._tat[key] - now
        remaining = max(0, budget.burst - math.ceil(backlog / interval - 1e-9))
        return Verdict(True, remaining, 0.0, backlog)

    def _prune(self, now: float) -> None:
        if len(self._tat) > MAX_BUCKETS:
            self._tat = {k: t for k, t in self._tat.items() if t > now}


def parse_budgets(text: str) -> dict[str, Budget]:
    """'operator=20/100,viewer=50/200': requests per second and burst, by role name."""
    budgets: dict[str, Budget] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, spec = item.partition("=")
        rate, _, burst = spec.partition("/")
        try:
            budget = Budget(float(rate), int(burst))
        except ValueError:
            raise ValueError(f"rate limit {item!r} must look like role=requests_per_s/burst") from None
        if budget.rate_per_s <= 0 or budget.burst < 1:
            raise ValueError(f"rate limit {item!r}: the rate must be > 0 and the burst >= 1")
        budgets[name.strip()] = budget
    return budgets
