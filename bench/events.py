"""Benchmark: the event outbox. How many events per second the webhook relay fans
out, and how long a state change takes to reach a webhook receiver.

    python bench/events.py [--events 50000] [--endpoints 4] [--operations 300]
                           [--database-url URL] [--json]

Relay: `--events` events are written to the outbox (one transaction per 5,000),
`--endpoints` endpoints take them all, and the relay's step (one statement:
read a batch below the horizon, fan it out, move the cursor) runs until caught
up. Ceiling, in the same run on the same database: the same batches fanned out
by a bare INSERT … SELECT into a table with no cursor, horizon or matching.

Latency: a runtime (no Ray) with its delivery workers and a receiver on
127.0.0.1; `--operations` submissions through the API, one at a time, each
writing operation.accepted. The latency is from the event's time (its
transaction's start) to its arrival at the receiver. Ceiling: a bare
LISTEN/NOTIFY round trip followed by the same POST, from the NOTIFY's send to
the arrival: the least any NOTIFY-driven push could take.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gridjobs import logs
from gridjobs.api.app import create_app
from gridjobs.config import Settings
from gridjobs.device_keys import ensure_master_key
from gridjobs.runtime import open_runtime
from gridjobs.store.database import create_pool, migrate
from gridjobs.store.deliveries import ensure_cursor, relay
from gridjobs.store.webhooks import NewEndpoint, insert_endpoint
from gridjobs.access.admin import create_token
from gridjobs.access.roles import ALL_ROLES
from gridjobs.webhooks import endpoints
from services import HOST, bench_database

WRITE_BATCH = 5000
RELAY_BATCH = 500
ARRIVAL_TIMEOUT_S = 30.0
WRITE_EVENTS = ("INSERT INTO events (type, data) SELECT 'operation.progress', jsonb_build_object('n', g) "
                "FROM generate_series(1, $1::int) g")
CEILING_TABLE = "CREATE TABLE bench_fanout (endpoint_id uuid, event_id bigint, PRIMARY KEY (endpoint_id, event_id))"
CEILING_STEP = """WITH batch AS (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2),
                  fanned AS (INSERT INTO bench_fanout SELECT w.id, b.id FROM batch b, webhook_endpoints w)
                  SELECT max(id), count(*) FROM batch"""
DEVICE = {"id": "b1", "profile": "controllable_load", "host": HOST, "port": 5020, "unit_id": 1,
          "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- relay throughput -----------------------------------------------------------------

async def relay_rate(dsn: str, events: int, endpoints_n: int) -> dict:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        await ensure_cursor(pool)
        for _ in range(endpoints_n):
            await insert_endpoint(pool, NewEndpoint(uuid4(), "bench", f"http://{HOST}:9/h",
                                                    ("operation.progress",), None, None))
        for start in range(0, events, WRITE_BATCH):
            await pool.execute(WRITE_EVENTS, min(WRITE_BATCH, events - start))
        started = time.perf_counter()
        relayed = 0
        while (step := await relay(pool, limit=RELAY_BATCH)).events:
            relayed += step.events
        relay_s = time.perf_counter() - started
        await pool.execute(CEILING_TABLE)
        started, last = time.perf_counter(), 0
        while (row := await pool.fetchrow(CEILING_STEP, last, RELAY_BATCH))["count"]:
            last = row["max"]
        ceiling_s = time.perf_counter() - started
        # nothing of this part is left for the next one to deliver
        await pool.execute("DROP TABLE bench_fanout; DELETE FROM webhook_endpoints; DELETE FROM events")
    finally:
        await pool.close()
    return {"events": relayed, "endpoints": endpoints_n, "relay_events_per_s": relayed / relay_s,
            "relay_deliveries_per_s": relayed * endpoints_n / relay_s,
            "ceiling_events_per_s": relayed / ceiling_s, "ratio": relay_s / ceiling_s}


# -- latency from the state change to the receiver ------------------------------------

class Arrivals:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.count = asyncio.Condition()

    async def hook(self, request: Request) -> Response:
        arrived = time.time()
        body = json.loads(await request.body())
        sent = body.get("sent") or datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()
        async with self.count:
            self.latencies.append(arrived - sent)
            self.count.notify_all()
        return Response(status_code=204)

    async def wait_for(self, n: int) -> None:
        async with asyncio.timeout(ARRIVAL_TIMEOUT_S), self.count:
            await self.count.wait_for(lambda: len(self.latencies) >= n)


@asynccontextmanager
async def receiver(arrivals: Arrivals) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hook", arrivals.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=0, log_config=None, access_log=False,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.02)
        yield f"http://{HOST}:{server.servers[0].sockets[0].getsockname()[1]}/hook"
    finally:
        server.should_exit = True
        await task


async def gridjobs_latency(dsn: str, operations: int, workdir: Path) -> list[float]:
    key = ensure_master_key(workdir / "master.key").path
    settings = Settings(database_url=dsn, master_key_file=key)
    arrivals = Arrivals()
    async with open_runtime(settings, execute=False) as runtime, receiver(arrivals) as url:
        await endpoints.create(runtime.keyring, endpoints.Owner("bench", None),
                               endpoints.Request(url, ("operation.accepted",)))
        token = (await create_token(runtime.pool, name="bench", roles=sorted(ALL_ROLES), feeders=None)).token

        @asynccontextmanager
        async def given():
            yield runtime
        app = create_app(given)
        app.state.runtime = runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gridjobs",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            assert (await client.post("/v1/devices", json=[DEVICE])).status_code == 200
            body = {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0}}
            for n in range(operations):
                assert (await client.post("/v1/operations", json=body)).status_code == 202
                await arrivals.wait_for(n + 1)   # one at a time: latency, not a queue
    return arrivals.latencies


async def notify_ceiling(dsn: str, rounds: int) -> list[float]:
    arrivals = Arrivals()
    async with receiver(arrivals) as url, httpx.AsyncClient() as http:
        listener, writer = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        queue: asyncio.Queue[float] = asyncio.Queue(maxsize=1)
        await listener.add_listener("bench_ping", lambda *args: queue.put_nowait(float(args[-1])))
        try:
            for n in range(rounds):
                await writer.execute("SELECT pg_notify('bench_ping', $1)", repr(time.time()))
                sent = await asyncio.wait_for(queue.get(), ARRIVAL_TIMEOUT_S)
                await http.post(url, json={"sent": sent, "timestamp": "1970-01-01T00:00:00Z"})
                await arrivals.wait_for(n + 1)
        finally:
            await listener.close()
            await writer.close()
    return arrivals.latencies


def describe(latencies: list[float]) -> dict:
    ms = [x * 1000 for x in latencies]
    return {"p50_ms": statistics.median(ms), "p99_ms": percentile(ms, 0.99), "n": len(ms)}


async def run(dsn: str, args: argparse.Namespace, workdir: Path) -> dict:
    figures = {"relay": await relay_rate(dsn, args.events, args.endpoints)}
    figures["latency"] = describe(await gridjobs_latency(dsn, args.operations, workdir))
    figures["latency_ceiling"] = describe(await notify_ceiling(dsn, args.operations))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logs.configure(json=False, level="warning")
    with tempfile.TemporaryDirectory(prefix="gj-bench-events-") as tmp, \
            bench_database(args.database_url, Path(tmp)) as dsn:
        figures = asyncio.run(run(dsn, args, Path(tmp)))
    r, lat, ceil = figures["relay"], figures["latency"], figures["latency_ceiling"]
    print(f"relay: {r['events']} events x {r['endpoints']} endpoints: {r['relay_events_per_s']:,.0f} events/s "
          f"({r['relay_deliveries_per_s']:,.0f} deliveries/s); bare fan-out {r['ceiling_events_per_s']:,.0f} "
          f"events/s; ratio {r['ratio']:.2f}")
    print(f"state change -> receiver: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms (n={lat['n']}); "
          f"NOTIFY + POST floor: p50 {ceil['p50_ms']:.1f} ms, p99 {ceil['p99_ms']:.1f} ms")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
