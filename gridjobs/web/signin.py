"""Sign-in with an API token, and sign-out.

The sign-in form carries a CSRF token that its own cookie must match (a
double submit: no session exists yet). A good token opens a page session
(access/sessions.py); the cookie holds only the session's random id: HttpOnly,
SameSite=Strict, and Secure when the request came over TLS. The token is never
written back into a page or a log line.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gridjobs.access.sessions import COOKIE, same
from gridjobs.errors import GridjobsError
from gridjobs.web.forms import CSRF_FIELD, checked_form, form
from gridjobs.web.templating import page

SIGNIN_COOKIE = "gridjobs_signin"
MAX_TOKEN_CHARS = 4096


def _cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def _form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    csrf = secrets.token_urlsafe(32)
    response = page(request, "signin.html", status_code, signin_csrf=csrf, error=error)
    _cookie(response, request, SIGNIN_COOKIE, csrf)
    return response


async def show(request: Request) -> Response:
    return _form(request)


async def submit(request: Request) -> Response:
    fields = await form(request)
    if not same(fields.get(CSRF_FIELD), request.cookies.get(SIGNIN_COOKIE, "")) or \
            not request.cookies.get(SIGNIN_COOKIE):
        return _form(request, error="the form expired; sign in again", status_code=403)
    token = fields.get("token", "").strip()[:MAX_TOKEN_CHARS]
    try:
        await request.app.state.runtime.access.authenticator.principal(f"Bearer {token}")
    except GridjobsError as exc:
        return _form(request, error=exc.detail, status_code=exc.status)
    session_id, _ = request.app.state.sessions.open(token)
    response = RedirectResponse("/", 303)
    _cookie(response, request, COOKIE, session_id)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


async def signout(request: Request) -> Response:
    await checked_form(request)
    request.app.state.sessions.close(request.cookies.get(COOKIE))
    response = RedirectResponse("/signin", 303)
    response.delete_cookie(COOKIE, path="/")
    return response
