"""The control-room page, /docs and /problems: server-rendered, its assets in the package.

`routes()` is what `create_app(pages=…)` mounts; gridjobs/access/policy.py PAGES says
who may open each.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gridjobs.api import streams
from gridjobs.web import docs, live, signin, views
from gridjobs.web.templating import STATIC_DIR


def routes() -> list[BaseRoute]:
    return [
        Route("/", views.operations, methods=["GET"]),
        Route("/live", streams.all_events, methods=["GET"]),
        Route("/operations/{id}", views.operation, methods=["GET"]),
        Route("/operations/{id}/live", live.operation_live, methods=["GET"]),
        Route("/operations/{id}/cancel", views.cancel, methods=["POST"]),
        Route("/operations/{id}/resume", views.resume, methods=["POST"]),
        Route("/feeders/{feeder}", views.feeder, methods=["GET"]),
        Route("/devices", views.devices, methods=["GET"]),
        Route("/devices/{id}", views.device, methods=["GET"]),
        Route("/signin", signin.show, methods=["GET"]),
        Route("/signin", signin.submit, methods=["POST"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route("/docs", docs.api_docs, methods=["GET"]),
        Route("/problems", docs.problems, methods=["GET"]),
        Route("/problems/{code}", docs.problem_page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR)),
        Mount("/docs/assets", app=StaticFiles(directory=docs.SWAGGER_UI_DIR)),
    ]
