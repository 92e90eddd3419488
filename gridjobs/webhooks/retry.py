"""What happens after an attempt: a pure decision of plain data.

Only 2xx is a success. The schedule (Standard Webhooks' example, trimmed):
immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; `factor` shrinks it
(tests). A 429 or 503 with Retry-After waits at least that long. 410 Gone
disables the endpoint at once; an endpoint failing for `disable_after_s` in a
row (5 days) is disabled too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

RETRY_SCHEDULE_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_RETRY_AFTER_S = max(RETRY_SCHEDULE_S)
DISABLE_AFTER_S = 5 * 24 * 3600.0
HONOUR_RETRY_AFTER = frozenset({429, 503})
GONE = 410


@dataclass(frozen=True)
class Verdict:
    state: str                       # delivered | pending (another attempt) | failed
    next_attempt_at: datetime | None
    disable: str | None = None       # why the endpoint stops: gone | failing


def succeeded(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def decide(*, status: int | None, attempt: int, now: datetime, retry_after_s: float | None = None,
           failing_since: datetime | None = None, factor: float = 1.0,
           disable_after_s: float = DISABLE_AFTER_S,
           schedule: tuple[float, ...] = RETRY_SCHEDULE_S) -> Verdict:
    """`attempt`: which attempt of the current schedule this was (1 = the immediate one)."""
    if succeeded(status):
        return Verdict("delivered", None)
    if status == GONE:
        return Verdict("failed", None, disable="gone")
    if failing_since is not None and (now - failing_since).total_seconds() >= disable_after_s:
        return Verdict("failed", None, disable="failing")
    if attempt >= len(schedule):
        return Verdict("failed", None)
    delay = schedule[attempt] * factor
    if status in HONOUR_RETRY_AFTER and retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return Verdict("pending", now + timedelta(seconds=delay))
