"""Page sessions: an opaque cookie id mapped, in this process's memory, to the API token.

The cookie carries 32 random bytes and nothing else; the token it stands for
never leaves the server. The map is keyed by the SHA-256 of the id, bounded
(`max_sessions`, the oldest dropped first) and expires a session idle for
`idle_s`. Each session has its own CSRF token, which every POST must echo.
Sessions live in one process: behind a balancer, pin a person to one process
or sign in again. A restart signs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

COOKIE = "gridjobs_session"
MAX_SESSIONS = 1000
IDLE_S = 8 * 3600.0


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str


class Sessions:
    def __init__(self, *, max_sessions: int = MAX_SESSIONS, idle_s: float = IDLE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max, self._idle_s, self._clock = max_sessions, idle_s, clock
        self._by_id: OrderedDict[bytes, tuple[Session, float]] = OrderedDict()

    def open(self, token: str) -> tuple[str, Session]:
        """A new session for `token`: the cookie value, and the session."""
        session_id = secrets.token_urlsafe(32)
        session = Session(token, secrets.token_urlsafe(32))
        self._by_id[_key(session_id)] = (session, self._clock())
        while len(self._by_id) > self._max:
            self._by_id.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        key = _key(session_id)
        found = self._by_id.get(key)
        if found is None:
            return None
        if self._clock() - found[1] > self._idle_s:
            del self._by_id[key]
            return None
        self._by_id[key] = (found[0], self._clock())
        self._by_id.move_to_end(key)
        return found[0]

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(_key(session_id), None)

    def __len__(self) -> int:
        return len(self._by_id)


def same(given: str | None, expected: str) -> bool:
    """A CSRF token compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _key(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()
