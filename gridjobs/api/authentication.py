"""Authentication: a plain ASGI middleware in front of every route.

It resolves the bearer credential to a Principal (401 otherwise), checks the
route against the authorization table (403), spends the principal's rate
budget (429), and appends every state-changing request, allowed or denied,
to the request audit. The principal travels in `scope["state"]["principal"]`
for the checks that need the body (operation kind, area of responsibility).
Page routes (gridjobs/web) take the token from their sign-in session instead of
a header; a page GET without one is sent to the sign-in page.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridjobs.access import policy
from gridjobs.access.sessions import COOKIE
from gridjobs.access.roles import Principal
from gridjobs.api.problems import problem
from gridjobs.api.route_match import route_template
from gridjobs.errors import GridjobsError, Unauthorized
from gridjobs.store.request_audit import RequestEntry

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
METRICS = "/metrics"
REQUEST_ID_HEADERS = (b"x-request-id", b"idempotency-key")
MAX_REQUEST_ID = 255


class Authentication:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = route_template(scope)
        rule = policy.rule_for(_method(scope), route) if route else None
        if rule is None or rule.public:  # unknown routes answer 404/405 with no identity
            return await self.app(scope, receive, send)
        runtime = scope["app"].state.runtime
        status = {"code": 500}
        try:
            principal = await self._admit(runtime, scope, route, rule)
        except GridjobsError as exc:
            await self._audit(runtime, scope, route, None, exc.status, exc.detail)
            if rule.session and exc.status == 401:   # revoked, expired or no session: sign in again
                scope["app"].state.sessions.close(HTTPConnection(scope).cookies.get(COOKIE))
                if _method(scope) == "GET":
                    return await RedirectResponse("/signin", 303)(scope, receive, send)
            response = problem(exc.status, exc.title, exc.detail, slug=exc.type_slug,
                               instance=scope.get("path"), headers=exc.headers or None, **exc.extra)
            return await response(scope, receive, send)
        scope.setdefault("state", {})["principal"] = principal

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await self._audit(runtime, scope, route, principal, status["code"], None)

    async def _admit(self, runtime: Any, scope: Scope, route: str, rule: policy.Rule) -> Principal:
        authorization = _session(scope) if rule.session else _header(scope, b"authorization")
        principal = await runtime.access.authenticator.principal(authorization)
        if principal.via == "scrape" and route != METRICS:
            raise Unauthorized("the metrics scrape token opens /metrics only")
        if principal.via != "scrape":
            policy.require_route(principal, _method(scope), route)
        if not (scope["method"] == "POST" and route == "/v1/operations"):  # spent there, by lane
            runtime.access.spend(principal)
        return principal

    async def _audit(self, runtime: Any, scope: Scope, route: str, principal: Principal | None,
                     status: int, detail: str | None) -> None:
        if scope["method"] not in STATE_CHANGING:
            return
        state = scope.get("state", {})
        target = state.get("audit_target") or next(iter(scope.get("path_params", {}).values()), None)
        await runtime.access.audit.add(RequestEntry(
            principal=principal.name if principal else None, via=principal.via if principal else None,
            roles=tuple(sorted(principal.roles)) if principal else (), method=scope["method"],
            route=route, target=str(target)[:200] if target else None,
            request_id=_request_id(scope), status=status, detail=detail[:500] if detail else None))


def _method(scope: Scope) -> str:
    """HEAD is a GET without the body: it needs what the GET needs."""
    return "GET" if scope["method"] == "HEAD" else scope["method"]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _session(scope: Scope) -> str | None:
    """The page session's token as an Authorization value; the session goes in the scope's state."""
    session = scope["app"].state.sessions.get(HTTPConnection(scope).cookies.get(COOKIE))
    if session is None:
        raise Unauthorized("sign in first")
    scope.setdefault("state", {})["session"] = session
    return f"Bearer {session.token}"


def _request_id(scope: Scope) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if (value := _header(scope, name)) is not None:
            return value[:MAX_REQUEST_ID]
    return None
