"""RequestMetrics: a plain ASGI middleware that counts and times requests by route."""

from __future__ import annotations

import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridjobs.metrics import HTTP_LATENCY, HTTP_REQUESTS


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = _route_of(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)


def _route_of(scope: Scope) -> str:
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if route.matches(scope)[0] == Match.FULL:
            return getattr(route, "path", "other")
    return "unmatched"
