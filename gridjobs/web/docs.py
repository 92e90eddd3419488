"""/docs (Swagger UI, shipped by the swagger-ui-py package, on /openapi.json) and /problems."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from gridjobs.errors import NotFound
from gridjobs.web.problem_texts import PROBLEMS
from gridjobs.web.templating import page

SWAGGER_UI_DIR = Path(str(files("swagger_ui") / "static"))


async def api_docs(request: Request) -> Response:
    """The reference, with the document inline: the page fetches nothing but its assets."""
    return page(request, "docs.html", spec=request.app.state.openapi)


async def problems(request: Request) -> Response:
    return page(request, "problems.html", problems=sorted(PROBLEMS.items()))


async def problem_page(request: Request) -> Response:
    code = request.path_params["code"]
    text = PROBLEMS.get(code)
    if text is None:
        raise NotFound(f"no problem type {code!r}; /problems lists them")
    return page(request, "problem.html", code=code, text=text)
