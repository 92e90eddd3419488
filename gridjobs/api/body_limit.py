"""BodyLimit: a plain ASGI middleware that refuses bodies over a byte limit (413).

A declared Content-Length over the limit is refused before the app runs. A
streamed body is counted as it is received; crossing the limit raises
PayloadTooLarge inside the app, which the problem handlers render.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridjobs.api.problems import problem
from gridjobs.errors import PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"request body exceeds the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem(413, "Payload too large", self._message(),
                               slug="payload-too-large", instance=scope.get("path"))
            return await response(scope, receive, send)
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)
