"""RequestMetrics: a plain ASGI middleware that counts and times requests by route."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridjobs.api.route_match import route_template
from gridjobs.metrics import HTTP_LATENCY, HTTP_REQUESTS


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled children, found once per (method, route, status): a `labels` call
        # takes the metric's lock and builds its key on every request otherwise.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

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
            route = route_template(scope) or "unmatched"
            key = (scope["method"], route, status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = HTTP_REQUESTS.labels(key[0], route, str(status))
            timer = self._timers.get(route)
            if timer is None:
                timer = self._timers[route] = HTTP_LATENCY.labels(route)
            counter.inc()
            timer.observe(time.perf_counter() - started)

