"""The page's Jinja2 templates (shipped in the package) and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")   # autoescapes .html
STATIC_DIR = HERE / "static"
# Only our own scripts run; Swagger UI sets inline styles, hence style-src 'unsafe-inline'.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    session = getattr(request.state, "session", None)
    principal = getattr(request.state, "principal", None)
    return TEMPLATES.TemplateResponse(
        request, template, {"principal": principal, "csrf": session.csrf if session else None, **context},
        status_code=status_code, headers=SECURITY_HEADERS)
