"""The Starlette application: routes, middleware, problem handlers, lifespan."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncContextManager, Callable, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from gridjobs.access.sessions import Sessions
from gridjobs.api import audit, devices, firmware, operations, service, streams, tokens, webhooks
from gridjobs.api.authentication import Authentication
from gridjobs.api.body_limit import BodyLimit
from gridjobs.api.inflight import InflightLimit
from gridjobs.api.openapi import build_openapi
from gridjobs.api.problems import EXCEPTION_HANDLERS
from gridjobs.api.request_metrics import RequestMetrics
from gridjobs.api.resources import Resource
from gridjobs.config import (
    FIRMWARE_MAX_BYTES, GRID_INFLIGHT_RESERVE, MAX_BODY_BYTES, MAX_INFLIGHT, MAX_STREAMS,
)
from gridjobs.runtime import Runtime

ROUTES = [
    Resource("/v1/operations", post=operations.submit, get=operations.list_all),
    Resource("/v1/operations/{id}", get=operations.get_one),
    Resource("/v1/operations/{id}/devices", get=operations.list_devices),
    Resource("/v1/operations/{id}/cancel", post=operations.cancel),
    Resource("/v1/operations/{id}/resume", post=operations.resume),
    Resource("/v1/operations/{id}/events", get=streams.operation_events),
    Resource("/v1/events", get=streams.all_events),
    Resource("/v1/webhooks", post=webhooks.create, get=webhooks.list_all),
    Resource("/v1/webhooks/{id}", get=webhooks.get_one, delete=webhooks.delete),
    Resource("/v1/webhooks/{id}/rotate-secret", post=webhooks.rotate_secret),
    Resource("/v1/webhooks/{id}/deliveries", get=webhooks.list_deliveries),
    Resource("/v1/webhooks/{id}/deliveries/{delivery_id}/retry", post=webhooks.retry),
    Resource("/v1/devices", post=devices.post_batch, get=devices.list_all),
    Resource("/v1/devices/{id}", put=devices.put_one, get=devices.get_one),
    Resource("/v1/firmware", post=firmware.upload, get=firmware.list_all),
    Resource("/v1/firmware/{id}", get=firmware.get_one),
    Resource("/v1/audit", get=audit.list_all),
    Resource("/v1/audit/requests", get=audit.list_requests),
    Resource("/v1/tokens", post=tokens.create, get=tokens.list_all),
    Resource("/v1/tokens/{name}", delete=tokens.revoke),
    Resource("/healthz", get=service.healthz),
    Resource("/readyz", get=service.readyz),
    Resource("/metrics", get=service.metrics),
    Resource("/openapi.json", get=service.openapi),
]


def create_app(
    open_runtime: Callable[[], AsyncContextManager[Runtime]],
    *, max_body_bytes: int = MAX_BODY_BYTES,
    firmware_max_bytes: int = FIRMWARE_MAX_BYTES,
    max_inflight: int = MAX_INFLIGHT, grid_inflight_reserve: int = GRID_INFLIGHT_RESERVE,
    max_streams: int = MAX_STREAMS, pages: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app; `open_runtime` provides the pool, shards and dispatcher.

    Firmware uploads have their own body limit. The upload itself also stops at
    the runtime's `settings.firmware_max_bytes`, so the lower of the two applies.
    Past `max_inflight` requests at once it answers 503, except for submissions
    that may take one of `grid_inflight_reserve` more slots (api/inflight.py). Event
    streams are bounded apart, at `max_streams` (api/stream_limit.py). `pages` are the
    control-room page's routes (gridjobs.web.routes()), signed in through `app.state.sessions`.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with open_runtime() as runtime:
            app.state.runtime = runtime
            yield

    app = Starlette(
        routes=[*ROUTES, *pages],
        middleware=[Middleware(RequestMetrics),
                    Middleware(InflightLimit, max_inflight=max_inflight, max_streams=max_streams,
                               reserve=grid_inflight_reserve),
                    Middleware(Authentication),
                    Middleware(BodyLimit, max_bytes=max_body_bytes,
                               prefix_limits={"/v1/firmware": firmware_max_bytes})],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.openapi = build_openapi()
    app.state.sessions = Sessions()
    return app
