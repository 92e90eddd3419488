"""The Starlette application: routes, middleware, problem handlers, lifespan."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncContextManager, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from gridjobs.api import audit, devices, firmware, operations, service
from gridjobs.api.body_limit import BodyLimit
from gridjobs.api.inflight import InflightLimit
from gridjobs.api.openapi import build_openapi
from gridjobs.api.problems import EXCEPTION_HANDLERS
from gridjobs.api.request_metrics import RequestMetrics
from gridjobs.config import FIRMWARE_MAX_BYTES, GRID_INFLIGHT_RESERVE, MAX_BODY_BYTES, MAX_INFLIGHT
from gridjobs.runtime import Runtime

ROUTES = [
    Route("/v1/operations", operations.submit, methods=["POST"]),
    Route("/v1/operations", operations.list_all, methods=["GET"]),
    Route("/v1/operations/{id}", operations.get_one, methods=["GET"]),
    Route("/v1/operations/{id}/devices", operations.list_devices, methods=["GET"]),
    Route("/v1/operations/{id}/cancel", operations.cancel, methods=["POST"]),
    Route("/v1/operations/{id}/resume", operations.resume, methods=["POST"]),
    Route("/v1/devices", devices.post_batch, methods=["POST"]),
    Route("/v1/devices", devices.list_all, methods=["GET"]),
    Route("/v1/devices/{id}", devices.put_one, methods=["PUT"]),
    Route("/v1/devices/{id}", devices.get_one, methods=["GET"]),
    Route("/v1/firmware", firmware.upload, methods=["POST"]),
    Route("/v1/firmware", firmware.list_all, methods=["GET"]),
    Route("/v1/firmware/{id}", firmware.get_one, methods=["GET"]),
    Route("/v1/audit", audit.list_all, methods=["GET"]),
    Route("/healthz", service.healthz, methods=["GET"]),
    Route("/readyz", service.readyz, methods=["GET"]),
    Route("/metrics", service.metrics, methods=["GET"]),
    Route("/openapi.json", service.openapi, methods=["GET"]),
]


def create_app(
    open_runtime: Callable[[], AsyncContextManager[Runtime]],
    *, max_body_bytes: int = MAX_BODY_BYTES,
    firmware_max_bytes: int = FIRMWARE_MAX_BYTES,
    max_inflight: int = MAX_INFLIGHT, grid_inflight_reserve: int = GRID_INFLIGHT_RESERVE,
) -> Starlette:
    """Build the app; `open_runtime` provides the pool, shards and dispatcher.

    Firmware uploads have their own body limit. The upload itself also stops at
    the runtime's `settings.firmware_max_bytes`, so the lower of the two applies.
    Past `max_inflight` requests at once it answers 503, except for submissions
    that may take one of `grid_inflight_reserve` more slots (api/inflight.py).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with open_runtime() as runtime:
            app.state.runtime = runtime
            yield

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestMetrics),
                    Middleware(InflightLimit, max_inflight=max_inflight,
                               reserve=grid_inflight_reserve),
                    Middleware(BodyLimit, max_bytes=max_body_bytes,
                               prefix_limits={"/v1/firmware": firmware_max_bytes})],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.openapi = build_openapi()
    return app
