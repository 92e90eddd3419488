"""Session settings: timeouts, concurrency and back-off for every gateway session."""

from __future__ import annotations

from dataclasses import dataclass

from .backoff import Backoff

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_MAX_INFLIGHT = 8
DEFAULT_CONNECT_TIMEOUT_S = 1.0
DEFAULT_BACKOFF_INITIAL_S = 0.05
DEFAULT_BACKOFF_MAX_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSettings:
    """How a ``GatewaySession`` talks to its gateway.

    ``timeout_s`` bounds the wait for one answer, from the moment the request is
    sent. ``max_inflight`` bounds the requests admitted to one gateway session
    at a time; pymodbus 3.16 sends them one after the other on the connection.
    """

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_inflight: int = DEFAULT_MAX_INFLIGHT
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S

    def __post_init__(self) -> None:
        for name in ("timeout_s", "connect_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if isinstance(self.max_inflight, bool) or not isinstance(self.max_inflight, int):
            raise ValueError(f"max_inflight must be an int, got {self.max_inflight!r}")
        if self.max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {self.max_inflight}")
        Backoff(initial_s=self.backoff_initial_s, max_s=self.backoff_max_s)  # raises on bad bounds

    @property
    def backoff(self) -> Backoff:
        return Backoff(initial_s=self.backoff_initial_s, max_s=self.backoff_max_s)
