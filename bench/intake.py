"""Benchmark: how fast gridjobs accepts operations, against a bare Starlette + asyncpg app.

    python bench/intake.py [--requests 2000] [--concurrency 32] [--rounds 3]
                           [--database-url URL] [--json]

gridjobs runs as `gridjobs serve --intake-only` (it stores operations and runs
none; no Ray). The load is `--requests` POSTs of a valid load_shed, each with
its own Idempotency-Key, from `--concurrency` workers, each with its own
httpx.AsyncClient; every request's latency is recorded and anything but a
202 is counted as an error. The ceiling, in the same run and on the same
database, is the smallest app that could do the job: the same uvicorn set-up,
one POST endpoint that parses the JSON and makes ONE asyncpg INSERT. It runs
as a subprocess of this script:

    python bench/intake.py --ceiling-server --port P --database-url URL

The two take turns under the identical load, `--rounds` times each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gridjobs import logs
from gridjobs.store.database import COMMAND_TIMEOUT_S, POOL_MAX_SIZE, POOL_MIN_SIZE
from services import (
    HOST, HttpServer, bench_database, exit_on_sigterm, free_port, gridjobs_serve, source_revision,
)

DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 32
DEFAULT_ROUNDS = 3
DEVICES = 10
FEEDER = "F1"
LOAD_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 30.0
WARMUP_PER_WORKER = 4              # untimed requests first: every connection opened on both sides
ERRORS_SHOWN = 5
ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)

CEILING_TABLE = """
CREATE TABLE IF NOT EXISTS bench_intake_ceiling (
    id uuid PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""
CEILING_INSERT = "INSERT INTO bench_intake_ceiling (id, body) VALUES ($1, $2::jsonb)"


# -- the ceiling server (runs in its own process) ----------------------------------------

def ceiling_app(dsn: str) -> Starlette:
    """One POST that parses JSON and makes one INSERT; a /readyz for the harness."""

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with asyncpg.create_pool(dsn, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE,
                                       command_timeout=COMMAND_TIMEOUT_S) as pool:
            await pool.execute(CEILING_TABLE)
            app.state.pool = pool
            yield

    async def accept(request: Request) -> Response:
        body = await request.json()
        op_id = uuid.uuid4()
        await request.app.state.pool.execute(CEILING_INSERT, op_id, json.dumps(body))
        return JSONResponse({"id": str(op_id), "status": "queued"}, status_code=202)

    async def readyz(request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    routes = [Route("/v1/operations", accept, methods=["POST"]),
              Route("/readyz", readyz, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)


def serve_ceiling(dsn: str, port: int) -> None:
    """Served by uvicorn exactly as gridjobs.serve.build_server configures it."""
    config = uvicorn.Config(ceiling_app(dsn), host=HOST, port=port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    asyncio.run(uvicorn.Server(config).serve())


# -- the load --------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    seconds: float
    latencies_s: list[float]
    statuses: dict[str, int]
    errors: list[str]

    @property
    def accepted(self) -> int:
        return self.statuses.get("202", 0)

    @classmethod
    def merged(cls, loads: list["Load"]) -> "Load":
        statuses: Counter[str] = Counter()
        for load in loads:
            statuses.update(load.statuses)
        return cls(sum(x.seconds for x in loads), [t for x in loads for t in x.latencies_s],
                   dict(statuses), [e for x in loads for e in x.errors][:ERRORS_SHOWN])

    def figures(self) -> dict:
        ordered = sorted(self.latencies_s)
        return {
            "requests": len(ordered), "accepted": self.accepted,
            "seconds": round(self.seconds, 3),
            "ops_per_s": round(self.accepted / self.seconds, 1),
            "p50_ms": round(_quantile(ordered, 0.50) * 1000, 2),
            "p99_ms": round(_quantile(ordered, 0.99) * 1000, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
            "statuses": self.statuses, "errors": self.errors,
        }


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def shed_body() -> dict:
    return {"kind": "load_shed", "params": {
        "target_kw": 25.0, "scope": {"feeders": [FEEDER]}, "hold_s": 0,
    }}


async def drive(clients: list[httpx.AsyncClient], *, requests: int, run: str) -> Load:
    """`requests` POSTs, one worker per client; every key is unique."""
    body = shed_body()
    indices = iter(range(requests))   # shared: each worker takes the next index
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for index in indices:
            status, detail, seconds = await _post(client, body, f"{run}-{index}")
            latencies.append(seconds)
            statuses[status] += 1
            if detail and len(errors) < ERRORS_SHOWN:
                errors.append(f"{status}: {detail}")

    started = time.perf_counter()
    async with asyncio.timeout(LOAD_TIMEOUT_S):
        await asyncio.gather(*(worker(c) for c in clients))
    return Load(time.perf_counter() - started, latencies, dict(statuses), errors)


async def _post(client: httpx.AsyncClient, body: dict, key: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    try:
        response = await client.post("/v1/operations", json=body, headers={"Idempotency-Key": key})
    except httpx.HTTPError as exc:
        return type(exc).__name__, str(exc)[:200], time.perf_counter() - started
    seconds = time.perf_counter() - started
    detail = "" if response.status_code == 202 else response.text[:200]
    return str(response.status_code), detail, seconds


def devices() -> list[dict]:
    return [{"id": f"bench-{i:03d}", "profile": "controllable_load", "host": HOST, "port": i,
             "unit_id": 1, "feeder": FEEDER, "shed_priority": 1, "protected": False,
             "rated_kw": 10.0} for i in range(1, DEVICES + 1)]


async def started(stack: AsyncExitStack, server: HttpServer, name: str) -> HttpServer:
    """Wait until `server` is ready; the stack stops it (and shows its log if we fail)."""
    stack.callback(server.stop)

    def show_log(exc_type, exc, tb) -> None:
        if exc_type is not None:
            print(f"{name} server log (tail):\n{server.log_tail()}", file=sys.stderr)

    stack.push(show_log)
    await server.wait_ready("/readyz")
    return server


async def workers(stack: AsyncExitStack, url: str, concurrency: int,
                  headers: dict[str, str] | None = None) -> list[httpx.AsyncClient]:
    """One one-connection client per worker.

    One client shared by 32 workers spends its time in httpcore's pool (on
    this machine it capped both servers near 350 requests/s, the bare app
    included), so the load generator, not the server, would be measured.
    """
    return [await stack.enter_async_context(
        httpx.AsyncClient(base_url=url, limits=ONE_CONNECTION, timeout=HTTP_TIMEOUT_S, headers=headers))
        for _ in range(concurrency)]


async def bench(args: argparse.Namespace, dsn: str, workdir: Path) -> dict:
    """Both servers up at once, loaded in turn (ABBA order), `--rounds` times each.

    Only one is ever under load, and the idle one costs nothing; taking turns
    spreads whatever else the machine is doing over both sides.
    """
    async with AsyncExitStack() as stack:
        gridjobs = await started(stack, gridjobs_serve(
            dsn, port=free_port(), log_path=workdir / "gridjobs.log", intake_only=True), "gridjobs")
        async with httpx.AsyncClient(base_url=gridjobs.url, timeout=HTTP_TIMEOUT_S, headers=gridjobs.headers) as http:
            (await http.post("/v1/devices", json=devices())).raise_for_status()
        port = free_port()
        ceiling = await started(stack, HttpServer(
            [sys.executable, str(Path(__file__).resolve()), "--ceiling-server", "--port", str(port),
             "--database-url", dsn], port=port, log_path=workdir / "ceiling.log"), "ceiling")
        sides = {"gridjobs": await workers(stack, gridjobs.url, args.concurrency, gridjobs.headers),
                 "ceiling": await workers(stack, ceiling.url, args.concurrency)}
        loads: dict[str, list[Load]] = {name: [] for name in sides}
        for name, clients in sides.items():  # untimed: opens every connection on both sides
            await drive(clients, requests=WARMUP_PER_WORKER * args.concurrency, run=f"{name}-warmup")
        for index in range(args.rounds):
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            for name in order:
                loads[name].append(await drive(sides[name], requests=args.requests,
                                               run=f"{name}-{uuid.uuid4().hex[:8]}"))
    return figures(args, Load.merged(loads["gridjobs"]), Load.merged(loads["ceiling"]),
                   {name: [round(x.accepted / x.seconds, 1) for x in runs] for name, runs in loads.items()})


def figures(args: argparse.Namespace, gridjobs: Load, ceiling: Load, per_round: dict) -> dict:
    g, c = gridjobs.figures(), ceiling.figures()
    g["rounds_ops_per_s"], c["rounds_ops_per_s"] = per_round["gridjobs"], per_round["ceiling"]
    return {
        "requests": args.requests, "concurrency": args.concurrency, "rounds": args.rounds,
        "revision": source_revision(), "gridjobs": g, "ceiling": c,
        "throughput_ratio": _ratio(c["ops_per_s"], g["ops_per_s"]),
        "p50_ratio": _ratio(g["p50_ms"], c["p50_ms"]),
        "p99_ratio": _ratio(g["p99_ms"], c["p99_ms"]),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def report(f: dict) -> str:
    def line(name: str, s: dict) -> str:
        return (f"{name:<9}: {s['ops_per_s']:8.1f} accepted ops/s  p50 {s['p50_ms']:7.2f} ms  "
                f"p99 {s['p99_ms']:7.2f} ms  ({s['accepted']}/{s['requests']} x 202 "
                f"in {s['seconds']:.3f} s)")
    lines = [f"intake: {f['rounds']} rounds of {f['requests']} POST /v1/operations per side, "
             f"{f['concurrency']} concurrent workers; gridjobs {f['revision']}",
             line("gridjobs", f["gridjobs"]), line("ceiling", f["ceiling"]),
             f"per round ops/s: gridjobs {f['gridjobs']['rounds_ops_per_s']}, "
             f"ceiling {f['ceiling']['rounds_ops_per_s']}",
             f"ratios   : throughput ceiling/gridjobs {f['throughput_ratio']}, "
             f"p50 gridjobs/ceiling {f['p50_ratio']}, p99 gridjobs/ceiling {f['p99_ratio']}"]
    for name in ("gridjobs", "ceiling"):
        side = f[name]
        if side["accepted"] != side["requests"]:
            lines.append(f"{name} errors: {side['statuses']} {side['errors']}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/intake.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"),
                   help="PostgreSQL server to create a throwaway database on "
                        "(default: GRIDJOBS_DATABASE_URL, else embedded PostgreSQL)")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                   help=f"timed loads per side, taken in turns (default {DEFAULT_ROUNDS})")
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    p.add_argument("--ceiling-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.requests, args.concurrency, args.rounds) < 1:
        p.error("--requests, --concurrency and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ceiling_server:  # uvicorn handles SIGTERM itself
        serve_ceiling(args.database_url, args.port)
        return 0
    exit_on_sigterm()
    logs.configure(level="info")  # to stderr; stdout carries the figures
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-intake-") as tmp:
        with bench_database(args.database_url, Path(tmp)) as dsn:
            figures = asyncio.run(bench(args, dsn, Path(tmp)))
    print(report(figures))
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
