"""Benchmark: how fast gridjobs accepts operations, side by side with its peers.

    python bench/intake.py [--seconds 10] [--connections 32] [--runs 1]
                           [--variants ceiling,celery,procrastinate,gridjobs]
                           [--workers 1] [--database-url URL] [--json]

Every variant is a Starlette app under uvicorn (1 worker unless `--workers`)
in its own process, on the same database server, loaded in turn by wrk
(`--connections` keep-alive connections, 2 threads, `--seconds` each); every
POST carries a new Idempotency-Key (a Lua counter per wrk thread):

* ceiling: one POST that parses the JSON and makes ONE asyncpg INSERT;
* celery: Celery `send_task` to the machine's Redis (`--redis-url`);
* procrastinate: procrastinate `defer_async` on the same PostgreSQL;
* gridjobs: `gridjobs serve --intake-only` (stores operations, runs none).

The peers run as subprocesses of this script:

    python bench/intake.py --peer-server NAME --port P --database-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gridjobs import logs
from gridjobs.store.database import COMMAND_TIMEOUT_S, POOL_MAX_SIZE, POOL_MIN_SIZE
from profiles import Profiler
from services import (
    HOST, HttpServer, bench_database, exit_on_sigterm, free_port, gridjobs_serve, source_revision,
)

DEFAULT_SECONDS = 10
DEFAULT_CONNECTIONS = 32
WRK_THREADS = 2
WARMUP_SECONDS = 2
DEVICES = 10
FEEDER = "F1"
HTTP_TIMEOUT_S = 30.0
WRK_TIMEOUT_S = 5
VARIANTS = ("ceiling", "celery", "procrastinate", "gridjobs")
PEER_QUEUE = "bench_intake"
# An intake-only gridjobs never drains its queue: without this, the admission gate's bulk
# bound (10,000 queued) would refuse part of a long run (503), which the peers never do.
UNBOUNDED_QUEUE = {"GRIDJOBS_BULK_QUEUE_MAX": "100000000", "GRIDJOBS_GRID_QUEUE_MAX": "100000000"}

CEILING_TABLE = """
CREATE TABLE IF NOT EXISTS bench_intake_ceiling (
    id uuid PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""
CEILING_INSERT = "INSERT INTO bench_intake_ceiling (id, body) VALUES ($1, $2::jsonb)"


# -- the peers (each runs in its own process) ----------------------------------------------

def _app(accept, lifespan) -> Starlette:
    async def readyz(request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    return Starlette(routes=[Route("/v1/operations", accept, methods=["POST"]),
                             Route("/readyz", readyz, methods=["GET"])], lifespan=lifespan)


def ceiling_app(dsn: str, redis_url: str) -> Starlette:
    """One POST that parses JSON and makes one INSERT, with gridjobs' pool size."""

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

    return _app(accept, lifespan)


def celery_app(dsn: str, redis_url: str) -> Starlette:
    """Celery's producer side: `send_task` to Redis (no worker runs; the queue is deleted after)."""
    from celery import Celery

    celery = Celery("bench", broker=redis_url)
    celery.conf.broker_connection_timeout = 5
    celery.conf.broker_transport_options = {"socket_timeout": 5, "socket_connect_timeout": 5}

    @asynccontextmanager
    async def lifespan(app: Starlette):
        with celery.connection_for_write() as conn:   # fail fast if Redis is not there
            conn.ensure_connection(max_retries=1)
        yield

    async def accept(request: Request) -> Response:
        body = await request.json()
        op_id = str(uuid.uuid4())
        # As a Celery user would write it in an async view: the call blocks the loop for one
        # Redis round trip (Celery has no asyncio producer).
        celery.send_task("gridjobs.load_shed", kwargs=body, task_id=op_id, queue=PEER_QUEUE)
        return JSONResponse({"id": op_id, "status": "queued"}, status_code=202)

    return _app(accept, lifespan)


def procrastinate_app(dsn: str, redis_url: str) -> Starlette:
    """procrastinate's `defer_async`, its schema applied to the bench database."""
    import procrastinate

    app_ = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=dsn, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE, timeout=COMMAND_TIMEOUT_S))

    @app_.task(name="gridjobs.load_shed", queue=PEER_QUEUE)
    def load_shed(**params) -> None:   # never runs here: no worker
        return None

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with app_.open_async():
            await _apply_procrastinate_schema(app_, dsn)
            yield

    async def accept(request: Request) -> Response:
        body = await request.json()
        job_id = await load_shed.defer_async(**body)
        return JSONResponse({"id": job_id, "status": "queued"}, status_code=202)

    return _app(accept, lifespan)


async def _apply_procrastinate_schema(app_, dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=COMMAND_TIMEOUT_S)
    try:
        present = await conn.fetchval("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    finally:
        await conn.close()
    if not present:
        await app_.schema_manager.apply_schema_async()


PEERS = {"ceiling": ceiling_app, "celery": celery_app, "procrastinate": procrastinate_app}


def serve_peer(name: str, dsn: str, redis_url: str, port: int) -> None:
    """Served by stock uvicorn with gridjobs' settings (uvloop, httptools), but not its
    write-coalescing protocol (gridjobs/http_server.py): the peers are apps as their users
    would serve them."""
    config = uvicorn.Config(PEERS[name](dsn, redis_url), host=HOST, port=port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    asyncio.run(uvicorn.Server(config).serve())


# -- the load: wrk ---------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Each request a new Idempotency-Key: run prefix, thread number, counter.
-- INTAKE_PORTS (several servers of one variant): thread i loads port i, in turn.
local threads = {}
local ports = {}
for port in string.gmatch(os.getenv("INTAKE_PORTS") or "", "%d+") do table.insert(ports, port) end
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  if #ports > 0 then
    thread.addr = wrk.lookup(wrk.host, ports[(#threads - 1) % #ports + 1])[1]
  end
end
function init(args)
  prefix = args[1] .. "-" .. tid .. "-"
  counter = 0
  wrk.method = "POST"
  wrk.body = args[2]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. counter
  return wrk.format(nil, "/v1/operations")
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def shed_body() -> dict:
    return {"kind": "load_shed", "params": {
        "target_kw": 25.0, "scope": {"feeders": [FEEDER]}, "hold_s": 0,
    }}


def wrk_command(url: str, script: Path, *, seconds: float, connections: int, threads: int,
                headers: dict[str, str]) -> list[str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT_S}s",
           "-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    return cmd + [url, "--", uuid.uuid4().hex[:12], json.dumps(shed_body())]


async def run_wrk(targets: list[HttpServer], script: Path, *, seconds: float,
                  connections: int) -> dict:
    """One wrk for all the targets (servers of one variant): its threads take the targets in
    turn, `connections` split evenly between them. One load generator of the same size
    whatever the number of servers, so that its own CPU does not grow with what is measured."""
    if any(t.headers != targets[0].headers for t in targets):
        raise ValueError("the servers of one variant must take the same headers")
    threads = len(targets) * math.ceil(WRK_THREADS / len(targets))
    ports = " ".join(str(urlsplit(t.url).port) for t in targets)
    proc = await asyncio.create_subprocess_exec(
        *wrk_command(targets[0].url, script, seconds=seconds, connections=max(connections, threads),
                     threads=threads, headers=targets[0].headers),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "INTAKE_PORTS": ports})
    try:
        async with asyncio.timeout(seconds + WRK_TIMEOUT_S + 30):
            out = (await proc.communicate())[0].decode(errors="replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    match = re.search(r"^WRK_JSON (.*)$", out, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no figures:\n{out[-2000:]}")
    result = json.loads(match.group(1))
    requests = result["requests"]
    errors = sum(result[k] for k in ("status_errors", "connect", "read", "write", "timeout"))
    seconds_run = result["duration_us"] / 1e6
    return {"requests": requests, "errors": errors, "seconds": round(seconds_run, 2),
            "req_per_s": round((requests - errors) / seconds_run, 1),
            "p50_ms": round(result["p50_us"] / 1000, 2), "p99_ms": round(result["p99_us"] / 1000, 2)}


# -- the servers ------------------------------------------------------------------------

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


async def servers(stack: AsyncExitStack, name: str, args: argparse.Namespace, dsn: str,
                  workdir: Path) -> list[HttpServer]:
    """`args.processes` servers of the variant, each its own process and port."""
    out = []
    for index in range(args.processes):
        port = free_port()
        if name == "gridjobs":
            server = gridjobs_serve(dsn, port=port, log_path=workdir / f"gridjobs-{index}.log",
                                    intake_only=True, env=UNBOUNDED_QUEUE)
        else:
            server = HttpServer([sys.executable, str(Path(__file__).resolve()), "--peer-server", name,
                                 "--port", str(port), "--database-url", dsn,
                                 "--redis-url", args.redis_url],
                                port=port, log_path=workdir / f"{name}-{index}.log")
        out.append(await started(stack, server, f"{name}-{index}"))
        if name == "gridjobs" and index == 0:
            async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S,
                                         headers=server.headers) as http:
                (await http.post("/v1/devices", json=devices())).raise_for_status()
    return out


async def bench(args: argparse.Namespace, dsn: str, workdir: Path) -> dict:
    """Every variant up at once, loaded in turn (the order reversed every other run)."""
    script = workdir / "intake.lua"
    script.write_text(WRK_SCRIPT)
    runs: dict[str, list[dict]] = {name: [] for name in args.variants}
    async with AsyncExitStack() as stack:
        if "celery" in args.variants:
            stack.push_async_callback(_drop_redis_queue, args.redis_url)
        targets = {name: await servers(stack, name, args, dsn, workdir) for name in args.variants}
        for name, servers_ in targets.items():   # untimed: connections, caches, JIT of the pools
            await run_wrk(servers_, script, seconds=WARMUP_SECONDS, connections=args.connections)
        for index in range(args.runs):
            order = list(targets) if index % 2 == 0 else list(reversed(targets))
            for name in order:
                runs[name].append(await run_wrk(targets[name], script, seconds=args.seconds,
                                                connections=args.connections))
        profiles = {}
        for name in args.profile:   # after the timed runs: py-spy costs CPU
            profiler = Profiler(targets[name][0].proc.pid, args.seconds, workdir / f"{name}.spy")
            with profiler:
                await run_wrk(targets[name], script, seconds=args.seconds, connections=args.connections)
            profiles[name] = profiler.report(f"profile of {name} (process 1) under the same load")
    return {"seconds": args.seconds, "connections": args.connections, "processes": args.processes,
            "revision": source_revision(), "runs": runs, "profiles": profiles}


async def _drop_redis_queue(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        await client.delete(PEER_QUEUE)
    finally:
        await client.aclose()


def report(f: dict) -> str:
    runs = f["runs"]
    ceiling = runs.get("ceiling")
    lines = [f"intake: wrk {f['connections']} connections x {f['seconds']} s per run, "
             f"{len(next(iter(runs.values())))} run(s) per variant, {f['processes']} process(es) each; "
             f"gridjobs {f['revision']}",
             f"{'variant':<14}{'run':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
             f"{'x ceiling':>11}{'p99 x ceil':>12}"]
    for name, results in runs.items():
        for index, r in enumerate(results):
            tail = ""
            if ceiling:
                c = ceiling[index]
                tail = f"{r['req_per_s'] / c['req_per_s']:>11.2f}{r['p99_ms'] / c['p99_ms']:>12.2f}"
            lines.append(f"{name:<14}{index + 1:>4}{r['req_per_s']:>10.1f}{r['p50_ms']:>9.2f}"
                         f"{r['p99_ms']:>9.2f}{r['errors']:>8}{tail}")
    if "gridjobs" in runs:
        peers = [n for n in ("celery", "procrastinate") if n in runs]
        for index, g in enumerate(runs["gridjobs"]):
            if peers:
                best = max(runs[n][index]["req_per_s"] for n in peers)
                lines.append(f"run {index + 1}: gridjobs / faster job queue = {g['req_per_s'] / best:.2f}")
    lines += f.get("profiles", {}).values()
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/intake.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=DEFAULT_SECONDS)
    p.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    p.add_argument("--runs", type=int, default=1, help="timed wrk runs per variant, in turns")
    p.add_argument("--processes", type=int, default=1,
                   help="server processes per variant, each on its own port (one wrk loads them all)")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   type=lambda v: [x for x in v.split(",") if x])
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"),
                   help="PostgreSQL server to create a throwaway database on "
                        "(default: GRIDJOBS_DATABASE_URL, else embedded PostgreSQL)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    p.add_argument("--profile", default="", type=lambda v: [x for x in v.split(",") if x],
                   help="variants to profile with py-spy in an extra, untimed run (e.g. gridjobs)")
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    p.add_argument("--peer-server", choices=sorted(PEERS), help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = set(args.variants) - set(VARIANTS)
    if set(args.profile) - set(args.variants):
        p.error("--profile names variants that are not run")
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    if min(args.seconds, args.connections, args.runs, args.processes) < 1:
        p.error("--seconds, --connections, --runs and --processes must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peer_server:  # uvicorn handles SIGTERM itself
        serve_peer(args.peer_server, args.database_url, args.redis_url, args.port)
        return 0
    if shutil.which("wrk") is None:
        print("bench/intake.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
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
