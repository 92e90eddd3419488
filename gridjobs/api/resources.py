"""Resource: one route per path, holding every method the path supports.

Starlette answers 405 from the first route whose path matches, so one Route
per method would name a single method in `Allow`. A Resource names them all,
in its 405 and in its answer to OPTIONS (204). OPTIONS on no known path falls
through to the router's 404.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class Resource(Route):
    def __init__(self, path: str, **handlers: Endpoint) -> None:
        self.handlers = {method.upper(): handler for method, handler in handlers.items()}
        if "GET" in self.handlers:
            self.handlers.setdefault("HEAD", self.handlers["GET"])
        super().__init__(path, self._dispatch, methods=list(self.handlers), name=path)

    @property
    def allow(self) -> str:
        return ", ".join(sorted({*self.methods, "OPTIONS"}))

    async def _dispatch(self, request: Request) -> Response:
        return await self.handlers[request.method](request)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "OPTIONS":
            return await Response(status_code=204, headers={"Allow": self.allow})(scope, receive, send)
        if scope["method"] not in self.methods:
            raise HTTPException(status_code=405, headers={"Allow": self.allow})
        # The endpoint is called here, not through Starlette's request_response (self.app):
        # its errors reach the app's ExceptionMiddleware, which renders them with the same
        # handlers, without a second wrapper around every request (2-3 us each).
        response = await self._dispatch(Request(scope, receive, send))
        await response(scope, receive, send)
