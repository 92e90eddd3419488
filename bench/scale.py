"""Benchmark: load shed at growing fleet sizes on a Ray cluster (issue 13).

    python bench/scale.py [--sizes 1000,10000,50000] [--shards N] [--database-url URL] [--json]

For each size: a fresh database, a simulated fleet (`python -m simulators`),
a Ray cluster head (`ray.cluster_utils.Cluster`, started here) and one
`gridjobs serve --ray-address` attached to it, so the shards are the
cluster's named ones. One timed shed (bench/shed.py's round: POST → every
non-protected device verified curtailed), then the raw pymodbus ceiling on
the same simulator (bench/raw_modbus.py), then from `gridjobs shards list`:

- shard memory: the RSS of the shard actor processes after the shed, and
  that RSS less their RSS before the first operation, divided by devices
  (the marginal bytes per device; goal <= 2 KiB);
- Ray calls per step: `execute` calls the shards received, per step (each is
  preceded by one `ping` on a cluster). They grow with shards, not devices.

The slope is the least-squares fit of shed seconds over devices (and of the
ceiling's). A benchmark, not a test: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from gridjobs import logs
from gridjobs.config import from_env
from raw_modbus import run_ceiling
from services import bench_database, exit_on_sigterm, free_port, gridjobs_serve, source_revision
from shed import (
    DEVICES_PER_GATEWAY, HTTP_TIMEOUT_S, REVERT_TIMEOUT_S, await_listening, gridjobs_round,
    import_devices, sheddable, start_simulator,
)

DEFAULT_SIZES = "1000,10000,50000"
CLI_TIMEOUT_S = 300.0
GOAL_BYTES_PER_DEVICE = 2048
DEVICES_PER_SIMULATOR = 10_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/scale.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"fleet sizes (default {DEFAULT_SIZES})")
    p.add_argument("--shards", type=int, default=from_env(os.environ).shards)
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"))
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    return args


def shards(address: str, *args: str) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-m", "gridjobs", "shards", *args, "--ray-address", address],
                          env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def start_simulators(workdir: Path, devices_n: int) -> tuple[list, list[dict]]:
    """The fleet split over simulator processes of at most DEVICES_PER_SIMULATOR devices
    each (one asyncio loop does not keep up with 50,000 devices). Each process names
    its devices alike, so the ids get the process's number in front."""
    parts = math.ceil(devices_n / DEVICES_PER_SIMULATOR)
    sims, devices = [], []
    try:
        for part in range(parts):
            share = devices_n // parts + (1 if part < devices_n % parts else 0)
            where = workdir / f"sim-{part}"
            where.mkdir()
            sim, inventory = start_simulator(where, devices=share,
                                             gateways=math.ceil(share / DEVICES_PER_GATEWAY))
            sims.append(sim)
            await_listening(sim)
            prefix = f"s{part}-" if parts > 1 else ""
            devices += [{**d, "id": prefix + d["id"]} for d in json.loads(inventory.read_text())]
    except BaseException:
        for sim in sims:
            sim.stop()
        raise
    return sims, devices


async def one_size(devices_n: int, args: argparse.Namespace, address: str, workdir: Path, dsn: str) -> dict:
    sims, devices = start_simulators(workdir, devices_n)
    gateways = len({(d["host"], d["port"]) for d in devices})
    try:
        eligible = sheddable(devices)
        log_path = workdir / "gridjobs.log"
        server = gridjobs_serve(dsn, port=free_port(), log_path=log_path, shards=args.shards,
                                env={"RAY_ADDRESS": address})
        try:
            await server.wait_ready("/readyz")
            idle = shards(address, "list", "--json")
            idle_rss = rss_bytes([e["pid"] for e in idle])
            async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S,
                                         headers=server.headers) as http:
                if await import_devices(http, devices) != len(devices):
                    raise RuntimeError("import incomplete")
                shed = await gridjobs_round(http, devices, len(eligible), log_path)
            after = shards(address, "list", "--json")
            rss = rss_bytes([e["pid"] for e in after])
            ceiling = await run_ceiling(eligible, request_timeout_s=from_env(os.environ).request_timeout_s,
                                        revert_timeout_s=REVERT_TIMEOUT_S)
        except BaseException:
            print(f"gridjobs server log (tail):\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()
            shards(address, "stop")
    finally:
        for sim in sims:
            sim.stop()
    calls: dict[str, int] = {}
    for entry in after:
        for step, n in entry["calls"].items():
            calls[step] = calls.get(step, 0) + n
    return {
        "devices": devices_n, "eligible": len(eligible), "gateways": gateways, "shards": args.shards,
        "simulators": len(sims),
        "shed_s": round(shed.seconds, 3), "ceiling_s": round(ceiling.seconds, 3),
        "ratio": round(shed.seconds / ceiling.seconds, 2),
        "outcomes": shed.outcomes, "ceiling_outcomes": ceiling.outcomes,
        "shard_rss_idle": idle_rss, "shard_rss_after": rss,
        "bytes_per_device": round(rss / devices_n),
        "marginal_bytes_per_device": round((rss - idle_rss) / devices_n),
        "ray_calls_per_step": calls,
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def report(result: dict) -> str:
    lines = [f"scale: shed on a Ray cluster, {result['shards']} shards; gridjobs {result['revision']}",
             f"{'devices':>8} {'shed s':>8} {'ceiling s':>10} {'ratio':>6} {'RSS/dev':>8} "
             f"{'marginal':>9}  Ray execute calls per step"]
    for r in result["sizes"]:
        if "error" in r:
            lines.append(f"{r['devices']:>8} did not complete: {r['error']}")
            continue
        per = r["bytes_per_device"]
        marginal = r["marginal_bytes_per_device"]
        lines.append(f"{r['devices']:>8} {r['shed_s']:>8.3f} {r['ceiling_s']:>10.3f} {r['ratio']:>6.2f} "
                     f"{per if per is not None else '-':>8} {marginal if marginal is not None else '-':>9}  "
                     f"{json.dumps(r['ray_calls_per_step'], sort_keys=True)}")
    s, c = result["slope_s_per_1k"], result["ceiling_slope_s_per_1k"]
    lines.append(f"slope: {s} s per 1000 devices (ceiling {c}); goal: marginal shard memory "
                 f"<= {GOAL_BYTES_PER_DEVICE} B per device")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    logs.configure(level="info")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    sizes = []
    try:
        for n in args.sizes:
            with tempfile.TemporaryDirectory(prefix="gridjobs-bench-scale-") as tmp:
                with bench_database(args.database_url, Path(tmp)) as dsn:
                    try:
                        sizes.append(asyncio.run(one_size(n, args, cluster.address, Path(tmp), dsn)))
                    except Exception as exc:   # a size that does not fit: say so, go on with the rest
                        sizes.append({"devices": n, "error": f"{type(exc).__name__}: {exc}"})
            print(json.dumps(sizes[-1], sort_keys=True), file=sys.stderr, flush=True)
    finally:
        cluster.shutdown()
    done = [r for r in sizes if "error" not in r]
    xs = [r["devices"] for r in done]
    fit = slope(xs, [r["shed_s"] for r in done])
    ceiling_fit = slope(xs, [r["ceiling_s"] for r in done])
    result = {"revision": source_revision(), "shards": args.shards, "sizes": sizes,
              "slope_s_per_1k": None if fit is None else round(fit * 1000, 3),
              "ceiling_slope_s_per_1k": None if ceiling_fit is None else round(ceiling_fit * 1000, 3)}
    print(report(result))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
