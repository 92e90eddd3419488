"""StreamLimit: a plain ASGI middleware that bounds the event streams open at once.

A stream lasts as long as its client stays, so it must not take one of the
GRIDJOBS_MAX_INFLIGHT slots, which are sized for requests that end: InflightLimit
hands stream paths to a StreamLimit instead of counting them. Streams have their own
bound, GRIDJOBS_MAX_STREAMS per process: past it, a new stream gets 503
problem+json with Retry-After at once.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from gridjobs.api.problems import problem
from gridjobs.metrics import EVENT_STREAMS_CUT, EVENT_STREAMS_OPEN

# The API's streams, and the control-room page's (gridjobs/web/live.py).
STREAM_PATH = re.compile(r"^/(v1/events|v1/operations/[^/]+/events|live|operations/[^/]+/live)$")
RETRY_AFTER_S = 5


def is_stream(path: str) -> bool:
    return STREAM_PATH.match(path) is not None


class StreamLimit:
    def __init__(self, app: ASGIApp, *, max_streams: int) -> None:
        self.app = app
        self.max_streams = max_streams
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not is_stream(scope["path"]):
            return await self.app(scope, receive, send)
        if self.open >= self.max_streams:
            EVENT_STREAMS_CUT.labels("refused").inc()
            response = problem(503, "Overloaded", f"{self.open} event streams are open, the most this "
                               f"server keeps; retry after {RETRY_AFTER_S} s", slug="overloaded",
                               instance=scope["path"], headers={"Retry-After": str(RETRY_AFTER_S)},
                               reason="streams", retry_after_s=RETRY_AFTER_S)
            return await response(scope, receive, send)
        self.open += 1
        EVENT_STREAMS_OPEN.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
            EVENT_STREAMS_OPEN.dec()
