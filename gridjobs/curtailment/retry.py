"""The retry decision for a device command: pure, from the fault code and attempts."""

from __future__ import annotations

MAX_ATTEMPTS = 2
TRANSIENT_CODES = frozenset({"connection_failed", "device_timeout", "shard_unavailable"})


def should_retry(code: str | None, attempts: int, *, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Retry a transient fault until `max_attempts` commands have been sent."""
    return code in TRANSIENT_CODES and attempts < max_attempts
