"""Running the service: embedded database when needed, then uvicorn, until a stop signal.

On SIGTERM or SIGINT (gridjobs.shutdown): the dispatcher stops claiming and
cancels its runs at once, each releasing its lease so another process takes it
over; uvicorn stops accepting and finishes open requests (HTTP_DRAIN_S); the
lifespan closes the shards, the pool and Ray; the embedded PostgreSQL stops;
`serve` returns. The whole drain is bounded by settings.drain_s.
"""

from __future__ import annotations

import asyncio
import gc
from contextlib import asynccontextmanager
from types import FrameType
from typing import AsyncIterator

import structlog
import uvicorn
import uvloop

from gridjobs.api.app import create_app
from gridjobs.bootstrap import database
from gridjobs.config import Settings
from gridjobs.http_server import CoalescingHttpProtocol, ForwardedHeaders
from gridjobs.transport import check_transport, listening_socket
from gridjobs.runtime import Runtime, open_runtime
from gridjobs.shutdown import StopRequest, stop_signals
from gridjobs import web

HTTP_DRAIN_S = 5.0   # open requests may finish this long after a stop signal

# A runner holds its operation's devices, outcomes and results (tens of thousands of
# objects in a large shed) while it builds the next batch: the collector's youngest
# generation runs every this many allocations, not every 700 (as in the shards).
API_GC_YOUNG_THRESHOLD = 20_000

log = structlog.get_logger("gridjobs.serve")


class Lifespan:
    """The runtime as the app's lifespan: its work stops the moment a stop is requested.
    Remembers why startup failed, as uvicorn only logs it and exits with status 3."""

    def __init__(self, settings: Settings, *, execute: bool, stop: StopRequest) -> None:
        self.settings, self.execute, self.stop = settings, execute, stop
        self.startup_error: Exception | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Runtime]:
        started = False
        try:
            async with open_runtime(self.settings, execute=self.execute) as runtime:
                started = True
                loop = asyncio.get_running_loop()
                with self.stop.hooked(lambda: loop.call_soon_threadsafe(runtime.begin_stop)):
                    yield runtime
        except Exception as exc:
            if not started:
                self.startup_error = exc
            raise


class Server(uvicorn.Server):
    """uvicorn's server, which also passes each stop signal to the process's StopRequest,
    and fails its startup with the runtime's own error."""

    def __init__(self, config: uvicorn.Config, runtime_lifespan: Lifespan) -> None:
        super().__init__(config)
        self.runtime_lifespan = runtime_lifespan

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The first signal only: a second SIGINT would make uvicorn skip the
        lifespan's shutdown, and the drain has its own bound."""
        if not self.runtime_lifespan.stop.requested:
            super().handle_exit(sig, frame)
        self.runtime_lifespan.stop(sig, frame)

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            # What startup built (modules, the app, schemas, pools) lives as long as the
            # process: out of the collector's sight, a full collection under load no longer
            # walks it (fewer and shorter pauses in the intake's tail latency).
            gc.freeze()
            gc.set_threshold(API_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
            where = self.servers[0].sockets[0].getsockname() if self.servers else ("?", 0)
            scheme = "https" if self.config.is_ssl else "http"
            log.info(f"listening on {scheme}://{self.config.host}:{where[1]}")

    async def serve(self, sockets=None) -> None:
        try:
            await super().serve(sockets)
        except SystemExit:
            if self.runtime_lifespan.startup_error is not None:
                raise self.runtime_lifespan.startup_error from None
            raise


def build_server(settings: Settings, *, execute: bool = True,
                 stop: StopRequest | None = None) -> Server:
    lifespan = Lifespan(settings, execute=execute, stop=stop or StopRequest(settings.drain_s))
    app = create_app(lifespan, max_body_bytes=settings.max_body_bytes,
                     firmware_max_bytes=settings.firmware_max_bytes,
                     max_inflight=settings.max_inflight,
                     grid_inflight_reserve=settings.grid_inflight_reserve,
                     max_streams=settings.max_streams, pages=web.routes())
    tls = ({"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
           if settings.tls_cert is not None else {})
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=HTTP_DRAIN_S,
                            http=CoalescingHttpProtocol, proxy_headers=False, **tls)
    # uvicorn's proxy-header handling, with the hosts it trusts (FORWARDED_ALLOW_IPS), asked
    # only by the requests that send such headers (gridjobs/http_server.py).
    config.app = ForwardedHeaders(app, trusted_hosts=config.forwarded_allow_ips)
    return Server(config, lifespan)


def serve(settings: Settings, *, execute: bool = True) -> None:
    """Serve until SIGTERM or SIGINT, then drain and return (exit status 0)."""
    check_transport(settings)   # before anything starts
    sock = listening_socket(settings.host, settings.port)
    settings = settings.with_overrides(bootstrap_admin_token=True)
    with sock, stop_signals(settings.drain_s) as stop, database(settings) as resolved:
        if stop.requested:   # asked to stop while the embedded database was starting
            return
        log.info("serving", host=resolved.host, port=resolved.port, shards=resolved.shards,
                 execute=execute, drain_s=resolved.drain_s)
        # uvloop: the serving loop in libuv; HTTP by httptools, one write per answer (http_server).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(build_server(resolved, execute=execute, stop=stop).serve(sockets=[sock]))
