"""The dead-man revert timer, evaluated lazily from a monotonic clock (no task per device)."""

from __future__ import annotations

import math


class RevertTimer:
    """Armed with a timeout in seconds; 0 disarms it. Expires once, at ``deadline``."""

    def __init__(self) -> None:
        self.timeout_s = 0
        self.deadline: float | None = None

    def arm(self, *, timeout_s: int, now: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = now + timeout_s if timeout_s > 0 else None

    def stop(self) -> None:
        """Stop counting; the timeout stays as written."""
        self.deadline = None

    def take_expiry(self, now: float) -> float | None:
        """If the timer ran out by ``now``, disarm it and return when it ran out."""
        if self.deadline is None or now < self.deadline:
            return None
        expired_at, self.deadline = self.deadline, None
        return expired_at

    def remaining_s(self, now: float) -> int:
        """Whole seconds left, rounded up; 0 when disarmed."""
        if self.deadline is None:
            return 0
        return math.ceil(max(0.0, self.deadline - now))
