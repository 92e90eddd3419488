"""Every error leaves as application/problem+json (RFC 9457).

What a problem quotes is bounded: `detail` and each `errors[].message` are cut
at MESSAGE_LIMIT characters. A 503 says when to come back (Retry-After).
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from gridjobs.errors import MESSAGE_LIMIT, GridjobsError, excerpt

PROBLEM_BASE = "/problems/"   # a URI reference: it resolves to this server's page on the problem
MEDIA_TYPE = "application/problem+json"
UNAVAILABLE_RETRY_AFTER_S = 5  # what a 503 asks a client to wait before retrying

log = structlog.get_logger("gridjobs.api")


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def problem(status: int, title: str, detail: str, *, slug: str, instance: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> ProblemResponse:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status,
            "detail": excerpt(detail, MESSAGE_LIMIT)}
    if instance:
        body["instance"] = instance
    body.update(extra)
    if "errors" in body:
        body["errors"] = [_bounded(e) for e in body["errors"]]
    if status == 503:
        headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S), **(headers or {})}
    return ProblemResponse(body, status_code=status, headers=headers)


def _bounded(error: dict[str, str]) -> dict[str, str]:
    return {key: excerpt(str(value), MESSAGE_LIMIT) for key, value in error.items()}


async def on_gridjobs_error(request: Request, exc: GridjobsError) -> ProblemResponse:
    if exc.status >= 500 and not exc.chosen:
        log.error("request_failed", error=exc.detail, path=request.url.path)
    return problem(exc.status, exc.title, exc.detail, slug=exc.type_slug,
                   instance=request.url.path, headers=exc.headers or None, **exc.extra)


_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}


async def on_http_exception(request: Request, exc: HTTPException) -> ProblemResponse:
    detail = exc.detail
    if exc.status_code == 404:
        detail = f"no route matches {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(exc.status_code, _TITLES.get(exc.status_code, "HTTP error"), str(detail),
                   slug=f"http-{exc.status_code}", instance=request.url.path,
                   headers=dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem(500, "Internal error", "the server failed to handle this request; it was logged",
                   slug="internal", instance=request.url.path)


EXCEPTION_HANDLERS = {
    GridjobsError: on_gridjobs_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
