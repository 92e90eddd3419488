"""Helpers shared by integration and acceptance tests."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg
import httpx

from actors.tasks import DeviceResult, pack_results, unpack_tasks
from gridjobs.access.admin import create_token
from gridjobs.access.roles import ALL_ROLES
from gridjobs.api.app import create_app
from gridjobs.config import Settings
from gridjobs.runtime import Runtime, open_runtime
from gridjobs.serve import build_server
from gridjobs.store.database import create_pool, migrate
from simulators import Fleet

TERMINAL = {"succeeded", "failed", "cancelled"}
LIVE_START_TIMEOUT_S = 30.0


def test_settings(db_url: str, **overrides) -> Settings:
    base = dict(database_url=db_url, shards=2, lease_s=3.0, poll_s=0.2,
                request_timeout_s=0.5, device_deadline_s=5.0)
    base.update(overrides)
    return Settings(**base)


async def admin_headers(pool: asyncpg.Pool, *, name: str | None = None, roles=None,
                        feeders=None) -> dict[str, str]:
    """A new token's Authorization header: every role and feeder unless told otherwise."""
    created = await create_token(pool, name=name or f"test-{uuid.uuid4().hex[:12]}",
                                 roles=roles or sorted(ALL_ROLES), feeders=feeders)
    return {"Authorization": f"Bearer {created.token}"}


@asynccontextmanager
async def api_client(runtime: Runtime, **app_options) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client wired to the real app (built with `app_options`), sharing an
    already open runtime."""

    @asynccontextmanager
    async def given():
        yield runtime

    app = create_app(given, **app_options)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app)
    headers = await admin_headers(runtime.pool)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridjobs.test",
                                 headers=headers) as client:
        yield client


@asynccontextmanager
async def running_service(db_url: str, *, execute: bool = True, **overrides):
    async with open_runtime(test_settings(db_url, **overrides), execute=execute) as runtime:
        async with api_client(runtime) as client:
            yield runtime, client


@asynccontextmanager
async def live_service(db_url: str, *, execute: bool = False,
                       **overrides) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The real app under a real uvicorn on 127.0.0.1 (a free port), intake-only unless told to
    `execute`: its base URL and the headers of an admin token.

    Unlike ASGITransport, this keeps connections alive between requests, so a
    test can check that a bad request leaves its connection usable.
    """
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        await migrate(pool)
        headers = await admin_headers(pool)
    finally:
        await pool.close()
    server = build_server(test_settings(db_url, host="127.0.0.1", port=0, **overrides), execute=execute)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(LIVE_START_TIMEOUT_S):
            while not server.started:
                if serving.done():
                    raise RuntimeError(f"the server did not start: {serving.exception()!r}")
                await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}", headers
    finally:
        server.should_exit = True
        await serving


async def wait_for_status(client: httpx.AsyncClient, op_id: str, statuses=TERMINAL,
                          *, timeout_s: float = 60.0) -> dict:
    async with asyncio.timeout(timeout_s):
        while True:
            op = (await client.get(f"/v1/operations/{op_id}")).json()
            if op["status"] in statuses:
                return op
            await asyncio.sleep(0.1)


async def wait_until(predicate, *, timeout_s: float = 30.0, interval_s: float = 0.1) -> None:
    async with asyncio.timeout(timeout_s):
        while not await predicate():
            await asyncio.sleep(interval_s)


async def outcomes(client: httpx.AsyncClient, op_id: str) -> dict[str, dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/operations/{op_id}/devices", params=params)).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return {o["device_id"]: o for o in items}


def quiet_loads(count: int = 8, *, gateways: int = 1, seed: int = 21) -> Fleet:
    """Controllable loads on feeder F1 whose power is exact (no noise, no ramp), so measured
    reductions add up exactly; not started (see `serving`)."""
    return Fleet.from_spec_document({
        "fleet": {"seed": seed, "gateways": gateways, "feeders": ["F1"]},
        "group": [{"name": "load", "profile": "controllable_load", "count": count, "rated_kw": [10.0, 30.0],
                   "load_factor": 0.8, "protected_fraction": 0.0, "shed_priorities": [1],
                   "physics": {"noise_fraction": 0.0, "ramp_s": 0.0}}],
    }, host="127.0.0.1", port=0)


@asynccontextmanager
async def serving(fleet):
    """A simulated fleet listening for the duration of the block."""
    await fleet.start()
    try:
        yield fleet
    finally:
        await fleet.stop()


class FakeMethod:
    """A Ray actor method's stand-in: `.remote()` returns an awaitable."""

    def __init__(self, fn) -> None:
        self._fn = fn

    def options(self, **_):
        return self

    def remote(self, *args):
        return asyncio.ensure_future(self._fn(*args))


class FakeStream:
    """As Ray's ObjectRefGenerator: each step gives a ref (here a done future) to await."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks

    def __aiter__(self):
        return self

    async def __anext__(self):
        chunk = await anext(self._chunks)
        ref = asyncio.get_running_loop().create_future()
        ref.set_result(chunk)
        return ref


class FakeStreamMethod(FakeMethod):
    """A streaming generator method's stand-in: `.remote()` returns a FakeStream."""

    def remote(self, *args):
        return FakeStream(self._fn(*args))


class FakeShard:
    """A DeviceShard actor handle's stand-in for ShardPool: it answers every task ok and
    keeps the device ids it was sent (`seen`)."""

    def __init__(self, segment: str | None, index: int) -> None:
        self.segment, self.index, self.seen = segment, index, []
        self.ping = FakeMethod(self._ping)
        self.execute_packed_stream = FakeStreamMethod(self._execute_packed_stream)

    async def _ping(self) -> int:
        return self.index

    async def _execute_packed_stream(self, operation_id, step, packed, timed=True):   # as DeviceShardImpl's
        tasks = unpack_tasks(packed)
        self.seen += [t.device_id for t in tasks]
        yield pack_results([DeviceResult(t.device_id, ok=True) for t in tasks])
