"""Benchmark: roll a firmware image out to every RTU of a simulated fleet at once.

    python bench/rollout.py [--devices 200] [--image-kib 64] [--gateways G] [--shards N]
                            [--database-url URL] [--json]

gridjobs figure: from sending POST /v1/operations (a firmware_rollout, one
wave of 100 %, max_parallel = every device, approval auto) until
GET /v1/operations/{id} shows it terminal, polled every 100 ms. It must have
succeeded with result.updated == devices.

Ceiling, in the same run against the same simulator process, after the
gridjobs rollout: a second image of the same size (the devices run the
first one by then) sent through pymodbus with the same device protocol
(raw_firmware.py): declare, every chunk as one FC16, read back size and CRC,
activate, wait out the reboot, confirm, read CONFIRMED. The ratio
gridjobs / ceiling is the figure to watch.

Defaults: 200 devices x 64 KiB, as asked for (274 chunks of 240 bytes per
device, 54,800 chunk writes per side). That fits the 2-core development
machine: the ceiling takes 9-13 s, gridjobs 21-35 s, the whole run under a
minute; no smaller default was needed. One run, not rounds: a rollout is long
enough that the 100 ms polling step and scheduling noise are small against it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from adapters import load_profile
from gridjobs import logs
from gridjobs.config import from_env
from raw_firmware import PROFILE, FirmwareCeiling, FirmwarePlan, run_ceiling
from services import (
    bench_database, exit_on_sigterm, format_counts, free_port, gridjobs_serve, source_revision,
)
from shed import await_listening, import_devices, outcomes, phases_from_log, start_simulator

DEFAULT_DEVICES = 200
DEFAULT_IMAGE_KIB = 64
DEVICES_PER_GATEWAY = 50
MAX_UNITS_PER_GATEWAY = 247        # Modbus unit ids 1..247
MAX_PARALLEL = 1000                # FirmwareRolloutParams.max_parallel's upper bound
OLD_VERSION, ROLLOUT_VERSION, CEILING_VERSION = "1.0.0", "1.0.1", "1.0.2"
REBOOT_S = 0.2
CONFIRM_WINDOW_S = 10.0
DEVICE_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.1
STAGE_SAMPLE_EVERY = 5             # polls: sample every device's stage every 0.5 s
WAIT_TIMEOUT_S = 1800.0
HTTP_TIMEOUT_S = 60.0
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
STAGES = ("fw_precheck", "fw_transfer", "fw_verify", "fw_activate", "fw_confirm")
LOG_EVENTS = ("operation_started", "crc_mismatch_resend", "wave_done", "operation_finished")
GOAL = "goal: ratio <= 1.5 at 200 devices x 64 KiB (the shed bench's bar)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/rollout.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=DEFAULT_DEVICES)
    p.add_argument("--image-kib", type=int, default=DEFAULT_IMAGE_KIB, help="image size in KiB")
    p.add_argument("--gateways", type=int, help=f"default: ceil(devices / {DEVICES_PER_GATEWAY})")
    p.add_argument("--shards", type=int, help="DeviceShard actors (default: as gridjobs serve)")
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"),
                   help="PostgreSQL server to create a throwaway database on "
                        "(default: GRIDJOBS_DATABASE_URL, else embedded PostgreSQL)")
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    args = p.parse_args(argv)
    if args.devices < 1 or args.image_kib < 1:
        p.error("--devices and --image-kib must be at least 1")
    args.gateways = args.gateways or math.ceil(args.devices / DEVICES_PER_GATEWAY)
    per_gateway = math.ceil(args.devices / args.gateways)  # gateways != 0 after `or`
    if not 1 <= args.gateways <= args.devices or per_gateway > MAX_UNITS_PER_GATEWAY:
        p.error(f"--gateways must be 1..devices with at most {MAX_UNITS_PER_GATEWAY} devices each")
    args.shards = args.shards or from_env(os.environ).shards
    return args


# -- the fleet ------------------------------------------------------------------

def write_fleet(workdir: Path, *, devices: int, gateways: int) -> Path:
    """A fleet file of `devices` RTUs on `gateways` gateways, all on OLD_VERSION."""
    path = workdir / "fleet.toml"
    path.write_text("\n".join([
        "[fleet]", "seed = 1", f"gateways = {gateways}", "",
        "[[group]]", 'name = "rtu"', f'profile = "{PROFILE}"', f"count = {devices}",
        f'firmware_version = "{OLD_VERSION}"', f"reboot_s = {REBOOT_S}",
        f"confirm_window_s = {CONFIRM_WINDOW_S}", "",
    ]), encoding="utf-8")
    return path


# -- gridjobs -------------------------------------------------------------------

@dataclass(frozen=True)
class Timed:
    op_id: str
    posted_at: float                 # wall clock, to line up with the server's log timestamps
    seconds: float                   # POST -> the poll that saw the operation terminal
    polls: int
    operation: dict                  # the terminal GET /v1/operations/{id}
    stages_s: dict[str, float]


@dataclass(frozen=True)
class Rollout:
    seconds: float                   # POST -> the poll that saw the operation terminal
    server_s: float                  # created_at -> finished_at, the server's own clock
    polls: int
    operation: dict
    stages_s: dict[str, float]       # stage -> first sample with every device at or past it
    phases_s: dict[str, float]       # server log events, s after the POST
    outcomes: dict[str, int]


async def upload(http: httpx.AsyncClient, image: bytes, version: str) -> dict:
    response = await http.post("/v1/firmware", params={"version": version, "profile": PROFILE},
                               content=image, headers={"content-type": "application/octet-stream"})
    if response.status_code != 201:
        raise RuntimeError(f"upload -> {response.status_code}: {response.text[:500]}")
    return response.json()


def rollout_body(firmware_id: str, devices: list[dict]) -> dict:
    return {"kind": "firmware_rollout", "params": {
        "firmware_id": firmware_id,
        "scope": {"feeders": sorted({d["feeder"] for d in devices})},
        "waves": ["100%"], "max_parallel": min(len(devices), MAX_PARALLEL),
        "device_timeout_s": DEVICE_TIMEOUT_S, "approval": "auto",
    }}


async def timed_rollout(http: httpx.AsyncClient, body: dict) -> Timed:
    """POST the rollout, then poll until it is terminal; sample device stages on the way."""
    posted_at, started = time.time(), time.perf_counter()
    response = await http.post("/v1/operations", json=body,
                               headers={"Idempotency-Key": f"bench-rollout-{uuid.uuid4()}"})
    if response.status_code != 202:
        raise RuntimeError(f"submit -> {response.status_code}: {response.text[:500]}")
    op_id, polls, op, stages = response.json()["id"], 0, None, {}
    try:
        async with asyncio.timeout(WAIT_TIMEOUT_S):
            while True:
                op = (await http.get(f"/v1/operations/{op_id}")).json()
                polls += 1
                if op["status"] in TERMINAL:
                    return Timed(op_id, posted_at, time.perf_counter() - started, polls, op, stages)
                if polls % STAGE_SAMPLE_EVERY == 0:
                    await sample_stages(http, op_id, stages, time.perf_counter() - started)
                await asyncio.sleep(POLL_INTERVAL_S)
    except TimeoutError:
        raise RuntimeError(f"rollout not terminal within {WAIT_TIMEOUT_S:g} s; last {op}") from None


async def sample_stages(http: httpx.AsyncClient, op_id: str, stages: dict, at: float) -> None:
    """Note the first sample at which every device had reached each stage."""
    counts = (await outcomes(http, op_id)).counts
    reached = [_stage_index(key) for key, n in counts.items() if n]
    if reached:
        for stage in STAGES[:min(reached) + 1]:
            stages.setdefault(stage, round(at, 1))


def _stage_index(key: str) -> int:
    """How far an outcome ("state/step[/code]") has got; a verdict is past every stage."""
    state, step = key.split("/")[:2]
    if state in ("succeeded", "failed", "cancelled"):
        return len(STAGES) - 1
    return STAGES.index(step) if step in STAGES else 0


async def gridjobs_rollout(args: argparse.Namespace, dsn: str, devices: list[dict], image: bytes,
                           workdir: Path) -> Rollout:
    log_path = workdir / "gridjobs.log"
    server = gridjobs_serve(dsn, port=free_port(), log_path=log_path, shards=args.shards)
    try:
        await server.wait_ready("/readyz")
        async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S, headers=server.headers) as http:
            if (imported := await import_devices(http, devices)) != len(devices):
                raise RuntimeError(f"imported {imported} of {len(devices)} devices")
            artifact = await upload(http, image, ROLLOUT_VERSION)
            timed = await timed_rollout(http, rollout_body(artifact["id"], devices))
            recorded = await outcomes(http, timed.op_id)
    except BaseException:
        print(f"gridjobs server log (tail):\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()  # the ceiling then has the machine to itself, as gridjobs had
    op = timed.operation
    return Rollout(timed.seconds, _seconds_between(op["created_at"], op["finished_at"]), timed.polls,
                   op, timed.stages_s, phases_from_log(log_path, timed.op_id, timed.posted_at, LOG_EVENTS),
                   recorded.counts)


def _seconds_between(start: str | None, end: str | None) -> float:
    if not (start and end):
        return float("nan")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


# -- one run ------------------------------------------------------------------------

async def bench(args: argparse.Namespace, dsn: str, inventory: Path, workdir: Path) -> dict:
    devices = json.loads(inventory.read_text())
    size = args.image_kib * 1024
    rollout = await gridjobs_rollout(args, dsn, devices, os.urandom(size), workdir)
    ceiling = await run_ceiling(devices, os.urandom(size), version=CEILING_VERSION,
                                request_timeout_s=from_env(os.environ).request_timeout_s)
    return figures(args, size, rollout, ceiling)


def figures(args: argparse.Namespace, size: int, g: Rollout, c: FirmwareCeiling) -> dict:
    result = g.operation["result"] or {}
    updated = int(result.get("updated") or 0)
    chunks_per_image = math.ceil(size / FirmwarePlan.from_profile(load_profile(PROFILE)).chunk_bytes)
    transfer_g = g.stages_s.get("fw_verify")
    return {
        "devices": args.devices, "gateways": args.gateways, "shards": args.shards,
        "image_bytes": size, "chunks_per_image": chunks_per_image, "revision": source_revision(),
        "gridjobs_s": round(g.seconds, 3), "gridjobs_server_s": round(g.server_s, 3),
        "ceiling_s": round(c.seconds, 3), "ratio": round(g.seconds / c.seconds, 2),
        "gridjobs_transfer_s": transfer_g, "ceiling_transfer_s": round(c.transfer_s, 3),
        "transfer_ratio": round(transfer_g / c.transfer_s, 2) if transfer_g else None,
        "gridjobs_stages_s": g.stages_s, "gridjobs_phases_s": g.phases_s, "polls": g.polls,
        "status": g.operation["status"], "error": g.operation["error"], "result": result,
        "gridjobs_chunks": updated * chunks_per_image, "gridjobs_bytes": updated * size,
        "ceiling_chunks": c.chunks, "ceiling_bytes": c.bytes_sent, "ceiling_requests": c.requests,
        "ceiling_polls": c.polls, "gridjobs_outcomes": g.outcomes, "ceiling_outcomes": c.outcomes,
        "complete": (g.operation["status"] == "succeeded" and updated == args.devices
                     and c.outcomes == {"ok": args.devices}),
        "goal": GOAL,
    }


def report(f: dict) -> str:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in f["gridjobs_stages_s"].items()) or "n/a"
    phases = ", ".join(f"{k} {v:.3f}" for k, v in f["gridjobs_phases_s"].items()) or "n/a"
    transfer = (f"transfer {f['gridjobs_transfer_s']:.1f} s vs {f['ceiling_transfer_s']:.3f} s, "
                f"ratio {f['transfer_ratio']:.2f}" if f["transfer_ratio"] else "transfer n/a")
    return "\n".join([
        f"rollout: {f['devices']} RTUs, {f['gateways']} gateways, {f['shards']} shards, image "
        f"{f['image_bytes']} B = {f['chunks_per_image']} chunks; gridjobs {f['revision']}",
        f"gridjobs : {f['gridjobs_s']:.3f} s  POST -> {f['status']}, polled every "
        f"{POLL_INTERVAL_S * 1000:.0f} ms ({f['polls']} polls); server created -> finished "
        f"{f['gridjobs_server_s']:.3f} s",
        f"           every device reached, s after POST (sampled every "
        f"{POLL_INTERVAL_S * STAGE_SAMPLE_EVERY:.1f} s): {stages}",
        f"           server log, s after POST: {phases}",
        f"ceiling  : {f['ceiling_s']:.3f} s  same device protocol through raw pymodbus, one client "
        f"per gateway, every device at once; {f['ceiling_requests']} requests "
        f"({f['ceiling_polls']} reboot polls)",
        f"ratio    : {f['ratio']:.2f}  gridjobs / ceiling ({transfer})",
        f"chunks   : gridjobs {f['gridjobs_chunks']} ({f['gridjobs_bytes']} B, from result.updated) | "
        f"ceiling {f['ceiling_chunks']} ({f['ceiling_bytes']} B, counted)",
        f"gridjobs result  : {json.dumps(f['result'], sort_keys=True)}"
        + (f"  error {f['error']}" if f["error"] else ""),
        f"gridjobs outcomes: {format_counts(f['gridjobs_outcomes'])}",
        f"ceiling outcomes : {format_counts(f['ceiling_outcomes'])}",
        *([] if f["complete"] else [
            "WARNING: not every device was updated on both sides; "
            "the timings do not measure a full rollout"]),
        GOAL,
    ])


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    logs.configure(level="info")  # to stderr; stdout carries the figures
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-rollout-") as tmp:
        workdir = Path(tmp)
        with bench_database(args.database_url, workdir) as dsn:
            fleet = write_fleet(workdir, devices=args.devices, gateways=args.gateways)
            sim, inventory = start_simulator(workdir, devices=args.devices, gateways=args.gateways,
                                             fleet=fleet)
            try:
                await_listening(sim)
                result = asyncio.run(bench(args, dsn, inventory, workdir))
            finally:
                sim.stop()
    print(report(result))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
