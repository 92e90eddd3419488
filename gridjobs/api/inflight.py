"""InflightLimit: a plain ASGI middleware that bounds the HTTP requests in flight.

Past `max_inflight` a request is answered at once, 503 problem+json with
Retry-After: 1, before its body is read and without touching Postgres: the
server sheds load before its latency runs away. /healthz, /readyz and
/metrics are exempt, so probes and scrapes still see an overloaded server.

Event streams are exempt too: they last as long as their client, and have
their own bound, `max_streams` (api/stream_limit.py). They are handed to that
bound from here, so other requests pass one layer, not two.

`reserve` more slots are kept for POST /v1/operations, for the grid lane
(emergency sheds and curtailments). The body is not read here, so the lane
is not known yet: a submission that gets a reserved slot is marked
(`holds_reserve`), and admission refuses it unless it is in the grid lane.
"""

from __future__ import annotations

from typing import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gridjobs.api.problems import problem
from gridjobs.api.stream_limit import StreamLimit, is_stream
from gridjobs.metrics import ADMISSION_REFUSED, HTTP_IN_FLIGHT

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RESERVE_FOR = ("POST", "/v1/operations")
RETRY_AFTER_S = 1
_RESERVED = "inflight_reserved"   # the key in the request's state


class InflightLimit:
    def __init__(self, app: ASGIApp, *, max_inflight: int, max_streams: int, reserve: int = 0,
                 exempt: Iterable[str] = EXEMPT_PATHS) -> None:
        self.app = app
        self.streams = StreamLimit(app, max_streams=max_streams)
        self.max_inflight = max_inflight
        self.reserve = reserve
        self.exempt = frozenset(exempt)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            return await self.app(scope, receive, send)
        if is_stream(scope["path"]):
            return await self.streams(scope, receive, send)
        if self.in_flight < self.max_inflight:
            return await self._handle(scope, receive, send)
        if self.in_flight < self.max_inflight + self.reserve and _submission(scope):
            scope.setdefault("state", {})[_RESERVED] = True
            return await self._handle(scope, receive, send)
        ADMISSION_REFUSED.labels("unparsed", "inflight").inc()
        detail = (f"{self.in_flight} requests are in flight, the most this server takes at once; "
                  f"retry after {RETRY_AFTER_S} s")
        response = problem(503, "Overloaded", detail, slug="overloaded", instance=scope["path"],
                           headers={"Retry-After": str(RETRY_AFTER_S)}, reason="inflight",
                           retry_after_s=RETRY_AFTER_S)
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_flight += 1
        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            HTTP_IN_FLIGHT.dec()


def _submission(scope: Scope) -> bool:
    return (scope["method"], scope["path"]) == RESERVE_FOR


def holds_reserve(request: Request) -> bool:
    """Whether this request got one of the slots kept for the grid lane."""
    return bool(request.scope.get("state", {}).get(_RESERVED, False))
