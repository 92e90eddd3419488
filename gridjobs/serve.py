"""Running the service: embedded database when needed, then uvicorn."""

from __future__ import annotations

import asyncio

import structlog
import uvicorn

from gridjobs.api.app import create_app
from gridjobs.bootstrap import database
from gridjobs.config import Settings
from gridjobs.runtime import open_runtime

log = structlog.get_logger("gridjobs.serve")


def build_server(settings: Settings, *, execute: bool = True) -> uvicorn.Server:
    app = create_app(lambda: open_runtime(settings, execute=execute),
                     max_body_bytes=settings.max_body_bytes,
                     firmware_max_bytes=settings.firmware_max_bytes,
                     max_inflight=settings.max_inflight,
                     grid_inflight_reserve=settings.grid_inflight_reserve)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    return uvicorn.Server(config)


def serve(settings: Settings, *, execute: bool = True) -> None:
    with database(settings) as resolved:
        log.info("serving", host=resolved.host, port=resolved.port, shards=resolved.shards,
                 execute=execute)
        asyncio.run(build_server(resolved, execute=execute).serve())
