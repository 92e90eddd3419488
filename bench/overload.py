"""Benchmark: overload is answered, not absorbed.

    python bench/overload.py [--levels 1,3,10] [--level-s 10] [--connections 1024]
                             [--shed-share 0.05] [--bulk-queue-max 10000] [--max-inflight 256]
                             [--shards 1] [--database-url URL] [--json]

gridjobs runs as `gridjobs serve` (dispatcher and shards included) against a
simulated fleet. Its ceiling is measured first, in the same run: the most
operations per second it accepts with a closed loop (the best of
--capacity-concurrency, each for --capacity-s). Then, for each level, an open
loop offers level x capacity requests/s for --level-s seconds, spread over
--connections keep-alive connections (bench/loadgen.py). The mix is mostly
firmware rollouts (bulk lane) plus --shed-share emergency load sheds (grid
lane); both target devices on a port where nothing listens, so the
dispatcher drains them quickly by failing them (that is the drain rate
admission measures). Levels follow each other without a reset, so the bulk
queue fills as it would.

Per level: offered and accepted requests/s, p50/p99 latency of every answer,
the share of 202, 503 (by reason) and 429, the server's peak RSS, the bulk
lane's depth afterwards, and accepted-then-lost: every 202's id must exist in
Postgres (must be 0). Halfway through the last level, a control room's load
shed (priority 100, on the simulated fleet) is POSTed on its own connection,
retried per Retry-After; afterwards the bench waits (bounded) for it to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from gridjobs import logs
from gridjobs.admission.lanes import Lane, lane_of
from gridjobs.config import EMERGENCY_PRIORITY
from intake import started
from loadgen import Tally, closed_loop, open_loop, post
from services import (
    HOST, bench_database, exit_on_sigterm, free_port, gridjobs_serve, source_revision,
)
from shed import await_listening, import_devices, start_simulator

DEFAULT_LEVELS = "1,3,10"
DEFAULT_LEVEL_S = 10.0
DEFAULT_CONNECTIONS = 1024
DEFAULT_CAPACITY_S = 4.0
DEFAULT_CAPACITY_CONCURRENCY = "16,64"
DEFAULT_SHED_SHARE = 0.05
SIM_DEVICES, DEAD_DEVICES = 20, 4
MIX_SHED_PRIORITY, CONTROL_ROOM_PRIORITY = 60, 100
HTTP_TIMEOUT_S = 30.0
SHED_RETRIES = 20                  # the control room's shed: attempts, each after Retry-After
SHED_WAIT_S = 180.0                # for it to finish once the flood is over
RSS_EVERY_S = 0.5
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


# -- set-up -----------------------------------------------------------------------------

def dead_devices(port: int) -> list[dict]:
    """Loads and RTUs behind a port where nothing listens: every request fails at once."""
    base = {"host": HOST, "port": port, "shed_priority": 1, "protected": False, "rated_kw": 10.0}
    return ([{**base, "id": f"dead-load-{i}", "profile": "controllable_load", "unit_id": i + 1,
              "feeder": "F-dead"} for i in range(DEAD_DEVICES)]
            + [{**base, "id": f"dead-rtu-{i}", "profile": "rtu", "unit_id": i + 101,
                "feeder": "F-rtu"} for i in range(DEAD_DEVICES)])


async def prepare(http: httpx.AsyncClient, inventory: list[dict]) -> str:
    """Devices (the simulated fleet and the dead ones) and a firmware image; its id."""
    await import_devices(http, inventory + dead_devices(free_port()))
    image = await http.post("/v1/firmware", params={"version": "9.0.0", "profile": "rtu"},
                            content=os.urandom(1024),
                            headers={"content-type": "application/octet-stream"})
    image.raise_for_status()
    return image.json()["id"]


def mix(firmware_id: str, shed_share: float, seed: int = 1):
    """Mostly rollouts, some emergency sheds: a `pick()` for the load generator."""
    rollout = {"kind": "firmware_rollout", "params": {
        "firmware_id": firmware_id, "scope": {"feeders": ["F-rtu"]}, "waves": ["100%"],
        "retries": 0, "device_timeout_s": 5}}
    shed = {"kind": "load_shed", "priority": MIX_SHED_PRIORITY, "params": {
        "target_kw": 5, "scope": {"feeders": ["F-dead"]}, "hold_s": 0}}
    requests = {kind: post("/v1/operations", json.dumps(body).encode(), host=HOST)
                for kind, body in (("rollout", rollout), ("shed", shed))}
    rng = random.Random(seed)

    def pick() -> tuple[str, bytes]:
        kind = "shed" if rng.random() < shed_share else "rollout"
        return kind, requests[kind]
    return pick


def control_room_shed(inventory: list[dict]) -> dict:
    return {"kind": "load_shed", "priority": CONTROL_ROOM_PRIORITY, "params": {
        "target_kw": 5, "scope": {"feeders": sorted({d["feeder"] for d in inventory})},
        "hold_s": 0, "restore": {"stages": 1, "stage_delay_s": 0}}}


# -- measuring ----------------------------------------------------------------------------

class PeakRss:
    """The peak resident set of one process, sampled from /proc every RSS_EVERY_S."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._task: asyncio.Task | None = None

    def sample(self) -> None:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                self.peak = max(self.peak, int(line.split()[1]) * 1024)

    async def __aenter__(self) -> "PeakRss":
        async def loop() -> None:
            while True:
                self.sample()
                await asyncio.sleep(RSS_EVERY_S)
        self._task = asyncio.create_task(loop())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.sample()


@dataclass
class ShedRun:
    status: str = "not sent"
    attempts: int = 0
    seconds_to_202: float | None = None
    op_id: str | None = None
    outcome: str | None = None
    seconds_to_finish: float | None = None
    posted_at: float = 0.0


async def submit_shed(url: str, body: dict, after_s: float, run: ShedRun) -> None:
    """After `after_s`, POST `body` on a connection of its own, retrying per Retry-After."""
    await asyncio.sleep(after_s)
    run.posted_at = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT_S) as http:
        for run.attempts in range(1, SHED_RETRIES + 1):
            r = await http.post("/v1/operations", json=body)
            run.status = str(r.status_code)
            if r.status_code == 202:
                run.op_id, run.seconds_to_202 = r.json()["id"], time.perf_counter() - run.posted_at
                return
            await asyncio.sleep(min(5, int(r.headers.get("retry-after", "1"))))


async def wait_finished(url: str, run: ShedRun) -> None:
    if run.op_id is None:
        return
    async with httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT_S) as http:
        try:
            async with asyncio.timeout(SHED_WAIT_S):
                while (op := await _operation(http, run.op_id))["status"] not in TERMINAL:
                    await asyncio.sleep(0.2)
        except TimeoutError:
            run.outcome = f"not finished within {SHED_WAIT_S:g} s"
            return
    run.outcome = op["status"]
    run.seconds_to_finish = time.perf_counter() - run.posted_at


async def _operation(http: httpx.AsyncClient, op_id: str) -> dict:
    return (await http.get(f"/v1/operations/{op_id}")).json()


async def queued_by_lane(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn, timeout=HTTP_TIMEOUT_S)
    try:
        rows = await conn.fetch("SELECT kind, priority, count(*) AS n FROM operations "
                                "WHERE status = 'queued' GROUP BY kind, priority")
    finally:
        await conn.close()
    depth = {lane.value: 0 for lane in Lane}
    for r in rows:
        depth[lane_of(r["kind"], r["priority"], emergency_priority=EMERGENCY_PRIORITY).value] += r["n"]
    return depth


async def lost(dsn: str, ids: list[str]) -> int:
    """Accepted (202) ids that are not in Postgres."""
    conn = await asyncpg.connect(dsn, timeout=HTTP_TIMEOUT_S)
    try:
        found = await conn.fetchval("SELECT count(*) FROM operations WHERE id = ANY($1::uuid[])",
                                    sorted(set(ids)))
    finally:
        await conn.close()
    return len(set(ids)) - found


# -- the run --------------------------------------------------------------------------------

def level_figures(name: str, target: float | None, tally: Tally, rss: int, depth: dict,
                  lost_ids: int) -> dict:
    ordered = sorted(tally.latencies_s) or [0.0]
    sent = max(1, tally.sent)
    sheds = {s: n for (k, s), n in tally.statuses.items() if k == "shed"}
    return {
        "level": name, "target_per_s": round(target, 1) if target else None,
        "offered_per_s": round(tally.sent / tally.seconds, 1),
        "accepted_per_s": round(tally.count("202") / tally.seconds, 1),
        "p50_ms": round(_quantile(ordered, 0.50) * 1000, 1),
        "p99_ms": round(_quantile(ordered, 0.99) * 1000, 1),
        "p99_202_ms": round(_quantile(sorted(tally.accepted_latencies_s) or [0.0], 0.99) * 1000, 1),
        "share_202": round(100 * tally.count("202") / sent, 1),
        "share_503": round(100 * tally.count("503") / sent, 1),
        "share_429": round(100 * tally.count("429") / sent, 1),
        "reasons_503": dict(tally.reasons),
        "retry_after_median_s": statistics.median(tally.retry_after_s) if tally.retry_after_s else None,
        "statuses": {f"{k}:{s}": n for (k, s), n in sorted(tally.statuses.items())},
        "mix_sheds_202": f"{sheds.get('202', 0)}/{sum(sheds.values())}",
        "rss_mib": round(rss / 2**20, 1), "queued_after": depth, "lost": lost_ids,
    }


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(args: argparse.Namespace, dsn: str, inventory: list[dict], workdir: Path) -> dict:
    env = {"GRIDJOBS_BULK_QUEUE_MAX": str(args.bulk_queue_max),
           "GRIDJOBS_MAX_INFLIGHT": str(args.max_inflight)}
    async with AsyncExitStack() as stack:
        server = await started(stack, gridjobs_serve(
            dsn, port=free_port(), log_path=workdir / "gridjobs.log", shards=args.shards, env=env),
            "gridjobs")
        async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S, headers=server.headers) as http:
            pick = mix(await prepare(http, inventory), args.shed_share)
        port, pid, ids = int(server.url.rsplit(":", 1)[1]), server.proc.pid, []
        rows, capacity = [], 0.0
        for concurrency in args.capacity_concurrency:
            async with PeakRss(pid) as rss:
                tally = await closed_loop(HOST, port, pick, connections=concurrency,
                                          seconds=args.capacity_s)
            ids += tally.accepted_ids
            rows.append(level_figures(f"closed {concurrency}", None, tally, rss.peak,
                                      await queued_by_lane(dsn), await lost(dsn, tally.accepted_ids)))
            capacity = max(capacity, tally.count("202") / tally.seconds)
        shed = ShedRun()
        for multiple in args.levels:
            last = multiple == args.levels[-1]
            extra = ([submit_shed(server.url, control_room_shed(inventory), args.level_s / 2, shed)]
                     if last else [])
            async with PeakRss(pid) as rss:
                tally, *_ = await asyncio.gather(
                    open_loop(HOST, port, pick, rate=multiple * capacity,
                              connections=args.connections, seconds=args.level_s), *extra)
            ids += tally.accepted_ids
            rows.append(level_figures(f"{multiple:g}x", multiple * capacity, tally, rss.peak,
                                      await queued_by_lane(dsn), await lost(dsn, tally.accepted_ids)))
        await wait_finished(server.url, shed)
        total_lost = await lost(dsn, ids)
    return {"revision": source_revision(), "capacity_per_s": round(capacity, 1), "levels": rows,
            "accepted": len(ids), "lost": total_lost, "shed": shed.__dict__,
            "connections": args.connections, "level_s": args.level_s,
            "bulk_queue_max": args.bulk_queue_max, "max_inflight": args.max_inflight,
            "shed_share": args.shed_share}


def report(f: dict) -> str:
    head = (f"{'level':<10} {'target/s':>8} {'offered/s':>9} {'accepted/s':>10} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'p99 202':>7} {'202%':>5} {'503%':>5} {'429%':>5} {'RSS MiB':>7} {'bulk q':>7} "
            f"{'lost':>4}  503 reasons (median Retry-After); mix sheds 202")
    lines = [f"overload: capacity {f['capacity_per_s']} accepted/s (closed loop); levels of "
             f"{f['level_s']:g} s over {f['connections']} connections; bulk bound "
             f"{f['bulk_queue_max']}, max in flight {f['max_inflight']}; gridjobs {f['revision']}",
             head]
    for r in f["levels"]:
        target = f"{r['target_per_s']:.0f}" if r["target_per_s"] else "-"
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(r["reasons_503"].items())) or "-"
        lines.append(
            f"{r['level']:<10} {target:>8} {r['offered_per_s']:>9.0f} {r['accepted_per_s']:>10.0f} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['p99_202_ms']:>7.1f} "
            f"{r['share_202']:>5.1f} {r['share_503']:>5.1f} {r['share_429']:>5.1f} {r['rss_mib']:>7.0f} {r['queued_after']['bulk']:>7} "
            f"{r['lost']:>4}  {reasons} ({r['retry_after_median_s']}); {r['mix_sheds_202']}")
    s = f["shed"]
    lines.append(f"control-room shed during the last level: {s['status']} after {s['attempts']} "
                 f"attempt(s), {_ms(s['seconds_to_202'])} to 202; finished: {s['outcome']} "
                 f"{_s(s['seconds_to_finish'])} after the first POST")
    lines.append(f"accepted-then-lost: {f['lost']} of {f['accepted']} accepted")
    return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds is not None else "-"


def _s(seconds: float | None) -> str:
    return f"{seconds:.1f} s" if seconds is not None else ""


def _numbers(kind):
    return lambda text: [kind(x) for x in text.split(",") if x]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/overload.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", type=_numbers(float), default=_numbers(float)(DEFAULT_LEVELS),
                   help="offered load as multiples of the measured capacity")
    p.add_argument("--level-s", type=float, default=DEFAULT_LEVEL_S)
    p.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS)
    p.add_argument("--capacity-s", type=float, default=DEFAULT_CAPACITY_S)
    p.add_argument("--capacity-concurrency", type=_numbers(int),
                   default=_numbers(int)(DEFAULT_CAPACITY_CONCURRENCY))
    p.add_argument("--shed-share", type=float, default=DEFAULT_SHED_SHARE)
    p.add_argument("--bulk-queue-max", type=int, default=10_000)
    p.add_argument("--max-inflight", type=int, default=256)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"),
                   help="PostgreSQL server to create a throwaway database on "
                        "(default: GRIDJOBS_DATABASE_URL, else embedded PostgreSQL)")
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    args = p.parse_args(argv)
    if not args.levels or min(args.levels) <= 0 or args.level_s <= 0 or args.connections < 1:
        p.error("--levels, --level-s and --connections must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    logs.configure(level="warning")  # to stderr; stdout carries the figures
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-overload-") as tmp:
        workdir = Path(tmp)
        with bench_database(args.database_url, workdir) as dsn:
            sim, inventory = start_simulator(workdir, devices=SIM_DEVICES, gateways=1)
            try:
                await_listening(sim)
                figures = asyncio.run(bench(args, dsn, json.loads(inventory.read_text()), workdir))
            finally:
                sim.stop()
    print(report(figures))
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    return 0 if figures["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
