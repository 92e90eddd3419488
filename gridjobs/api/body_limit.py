"""BodyLimit: a plain ASGI middleware that refuses bodies over a byte limit (413).

The limit is `max_bytes`, unless the path lies under one of `prefix_limits`
(the longest matching prefix wins): firmware images, say, may be larger than
any JSON body. A declared Content-Length over the limit is refused before the
app runs; one within it is all the server reads of that body. A body without
one (chunked) is counted as it is received; crossing the limit raises
PayloadTooLarge inside the app, which the problem handlers render.
"""

from __future__ import annotations

from typing import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridjobs.api.problems import problem
from gridjobs.errors import PayloadTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 prefix_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Longest prefix first, so "/v1/a/b" beats "/v1/a".
        self.prefix_limits = sorted((prefix_limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.prefix_limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope["headers"])
        if declared is not None and declared <= limit:
            # The server frames the body by its Content-Length: no more of it can arrive.
            return await self.app(scope, receive, send)
        message = f"request body exceeds the limit of {limit} bytes"
        if declared is not None:
            response = problem(413, "Payload too large", message,
                               slug="payload-too-large", instance=scope.get("path"))
            return await response(scope, receive, send)
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            received = await receive()
            if received["type"] == "http.request":
                seen += len(received.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(message)
            return received

        await self.app(scope, limited_receive, send)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared Content-Length, or None (none, or not a number: counted as it comes)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
