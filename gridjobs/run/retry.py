"""The one retry rule every runner follows: pure, from the fault code and attempts."""

from __future__ import annotations

from dataclasses import dataclass

from adapters import TRANSIENT

DEFAULT_MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class RetryRule:
    """Retry a transient fault (`adapters.TRANSIENT`) until `max_attempts` commands were sent."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @staticmethod
    def transient(code: str | None) -> bool:
        return code in TRANSIENT

    def should_retry(self, code: str | None, attempts: int) -> bool:
        return self.transient(code) and attempts < self.max_attempts
