"""A page form's fields, and the CSRF check every page POST makes."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from gridjobs.access.sessions import same
from gridjobs.errors import BadRequest, Forbidden

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 4096
CSRF_FIELD = "csrf"


async def form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM:
        raise BadRequest(f"a page form is sent as {FORM}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest(f"a page form is at most {MAX_FORM_BYTES} bytes")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def checked_form(request: Request) -> dict[str, str]:
    """The form of a signed-in POST whose CSRF token matches its session's (403 otherwise)."""
    fields = await form(request)
    session = getattr(request.state, "session", None)
    if session is None or not same(fields.get(CSRF_FIELD), session.csrf):
        raise Forbidden("the form's CSRF token does not match this session; reload the page")
    return fields
