"""Benchmark: the API process's RSS over 100,000 accepted operations (goal: flat within 10 %).

    python bench/memory.py [--operations 100000] [--slice-s 10] [--connections 32]
                           [--database-url URL] [--json]

gridjobs runs as `gridjobs serve --intake-only`; wrk (as in bench/intake.py:
every POST a new Idempotency-Key) loads it in slices of `--slice-s` seconds
until Postgres holds `--operations` operations. The server's RSS is read
(psutil) after every slice. The baseline is the RSS once 10 % of the
operations are in (pools, caches and allocator arenas warmed up); growth =
last / baseline - 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx
import psutil

from gridjobs import logs
from intake import HTTP_TIMEOUT_S, UNBOUNDED_QUEUE, WRK_SCRIPT, devices, run_wrk, started
from services import bench_database, exit_on_sigterm, free_port, gridjobs_serve, source_revision

DEFAULT_OPERATIONS = 100_000
BASELINE_SHARE = 0.10
GOAL_GROWTH = 0.10
MAX_SLICES = 10_000          # bounded; a slice that accepts nothing ends the run too


async def bench(args: argparse.Namespace, dsn: str, workdir: Path) -> dict:
    script = workdir / "intake.lua"
    script.write_text(WRK_SCRIPT)
    samples: list[dict] = []
    async with AsyncExitStack() as stack:
        server = await started(stack, gridjobs_serve(dsn, port=free_port(), log_path=workdir / "gridjobs.log",
                                                      intake_only=True, env=UNBOUNDED_QUEUE), "gridjobs")
        async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S, headers=server.headers) as http:
            (await http.post("/v1/devices", json=devices())).raise_for_status()
        process = psutil.Process(server.proc.pid)
        conn = await asyncpg.connect(dsn, timeout=30)
        stack.push_async_callback(conn.close)
        started_at = time.perf_counter()
        for _ in range(MAX_SLICES):
            load = await run_wrk([server], script, seconds=args.slice_s, connections=args.connections)
            stored = await conn.fetchval("SELECT count(*) FROM operations")
            samples.append({"operations": stored, "rss_mib": round(process.memory_info().rss / 2**20, 1),
                            "req_per_s": load["req_per_s"], "errors": load["errors"],
                            "s": round(time.perf_counter() - started_at, 1)})
            print(f"  {stored:>8} operations  RSS {samples[-1]['rss_mib']:7.1f} MiB  "
                  f"{load['req_per_s']:8.1f} req/s", file=sys.stderr)
            if stored >= args.operations:
                break
            if load["req_per_s"] <= 0:
                raise RuntimeError(f"a slice accepted nothing ({load['errors']} errors); "
                                   f"server log:\n{server.log_tail()}")
    baseline = next(s for s in samples if s["operations"] >= args.operations * BASELINE_SHARE)
    last = samples[-1]
    growth = last["rss_mib"] / baseline["rss_mib"] - 1
    return {"revision": source_revision(), "operations": last["operations"], "samples": samples,
            "baseline": baseline, "last": last, "peak_mib": max(s["rss_mib"] for s in samples),
            "growth": round(growth, 4), "goal_met": growth <= GOAL_GROWTH}


def report(f: dict) -> str:
    b, last = f["baseline"], f["last"]
    return "\n".join([
        f"memory: gridjobs {f['revision']} (serve --intake-only), {f['operations']} operations accepted",
        f"RSS at {b['operations']} operations (baseline): {b['rss_mib']} MiB; at {last['operations']}: "
        f"{last['rss_mib']} MiB; peak {f['peak_mib']} MiB",
        f"growth after the baseline: {100 * f['growth']:+.1f} %  (goal: within {100 * GOAL_GROWTH:.0f} %: "
        f"{'met' if f['goal_met'] else 'NOT met'})",
    ])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/memory.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--operations", type=int, default=DEFAULT_OPERATIONS)
    p.add_argument("--slice-s", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if min(args.operations, args.slice_s, args.connections) < 1:
        p.error("--operations, --slice-s and --connections must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench/memory.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    exit_on_sigterm()
    logs.configure(level="warning")
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-memory-") as tmp:
        with bench_database(args.database_url, Path(tmp)) as dsn:
            figures = asyncio.run(bench(args, dsn, Path(tmp)))
    print(report(figures))
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0 if figures["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
