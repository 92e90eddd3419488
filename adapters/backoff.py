"""Reconnect back-off: a pure decision of how long to wait after failed connects."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential back-off: ``initial_s`` after the first failure, doubling up to ``max_s``."""

    initial_s: float
    max_s: float

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(
                f"backoff needs 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}"
            )

    def delay_after(self, *, failures: int) -> float:
        """Seconds to wait before the next attempt, after ``failures`` failures in a row."""
        if failures <= 0:
            return 0.0
        return min(self.initial_s * 2 ** (failures - 1), self.max_s)
