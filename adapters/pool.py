"""The session pool: one ``GatewaySession`` per (host, port), created on first use."""

from __future__ import annotations

from .errors import SessionClosedError
from .request_stats import RequestCounts
from .session import GatewaySession
from .settings import (
    DEFAULT_BACKOFF_INITIAL_S,
    DEFAULT_BACKOFF_MAX_S,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MAX_INFLIGHT,
    DEFAULT_TIMEOUT_S,
    SessionSettings,
)


class SessionPool:
    """Hands out one shared session per gateway and closes them all at the end."""

    def __init__(
        self,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        backoff_initial_s: float = DEFAULT_BACKOFF_INITIAL_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
    ) -> None:
        self.settings = SessionSettings(
            timeout_s=timeout_s,
            max_inflight=max_inflight,
            connect_timeout_s=connect_timeout_s,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
        )
        self._sessions: dict[tuple[str, int], GatewaySession] = {}
        self._closed = False

    def session(self, *, host: str, port: int) -> GatewaySession:
        """The session for a gateway; the same object every time for the same (host, port)."""
        if self._closed:
            raise SessionClosedError("session pool is closed")
        key = (host, port)
        if key not in self._sessions:
            self._sessions[key] = GatewaySession(host=host, port=port, settings=self.settings)
        return self._sessions[key]

    def counts(self) -> dict[str, RequestCounts]:
        """Request counts per gateway (`host:port`), for every session handed out so far."""
        return {f"{host}:{port}": s.stats.counts() for (host, port), s in self._sessions.items()}

    async def close(self) -> None:
        """Close every session. Idempotent; the pool hands out no sessions afterwards."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
