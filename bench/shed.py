"""Benchmark: shed load on every non-protected device of a simulated fleet.

    python bench/shed.py --devices 1000 [--gateways G] [--shards N] [--rounds 3]
                         [--database-url URL] [--survey-roles ROLES] [--json]

gridjobs figure: from sending POST /v1/operations (a load_shed whose target
is more than the fleet can give, so every candidate is curtailed) until
GET /v1/operations/{id} shows a recorded, verified outcome for every
non-protected device, polled every POLL_INTERVAL_S. Beside it: when the same
showed on the operation's event stream (an operation.progress pushed to a
client that does not poll), and when the newest outcome row was written. The
operation is then cancelled so gridjobs restores every device (reported, not
timed).

Ceiling, in the same run against the same simulator process, right after
each gridjobs round: the same Modbus requests per device sent straight
through pymodbus (raw_modbus.py). The ratio gridjobs / ceiling, medians over
`--rounds`, is the figure to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPConnection
from pathlib import Path
from statistics import median, median_low
from typing import Iterable
from urllib.parse import urlsplit

import httpx

from gridjobs import logs
from gridjobs.config import from_env
from gridjobs.profiles import ProfileCatalog
from raw_modbus import SURVEY_ROLES, CeilingResult, run_ceiling
from services import (
    HOST, STARTUP_TIMEOUT_S, Child, bench_database, exit_on_sigterm, format_counts, free_port,
    gridjobs_serve, source_revision,
)

DEFAULT_DEVICES = 1000
DEFAULT_ROUNDS = 3
DEVICES_PER_GATEWAY = 200          # the simulator allows at most 247 unit ids per gateway
REVERT_TIMEOUT_S = 120
POLL_INTERVAL_S = 0.05
WAIT_TIMEOUT_S = 600.0
HTTP_TIMEOUT_S = 60.0
IMPORT_BATCH = 1000                # keeps each POST /v1/devices well under the 1 MiB body limit
OUTCOME_PAGE = 500
MAX_OUTCOME_PAGES = 1000           # bounds the paging loop; far more than any fleet needs
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
TERMINAL_EVENTS = frozenset(f"operation.{status}" for status in TERMINAL)
PHASE_EVENTS = ("operation_started", "survey_done", "curtail_batch")
GOAL = "goal (issue 14): ratio <= 1.3 at 1,000 devices, <= 1.5 at 10,000"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/shed.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=DEFAULT_DEVICES)
    p.add_argument("--fleet", type=Path,
                   help="a fleet file (e.g. simulators/fleets/mixed.toml) instead of --devices: "
                        "the shed then covers its loads and feeder controllers")
    p.add_argument("--gateways", type=int, help=f"default: ceil(devices / {DEVICES_PER_GATEWAY})")
    p.add_argument("--shards", type=int, help="DeviceShard actors (default: as gridjobs serve)")
    p.add_argument("--database-url", default=os.environ.get("GRIDJOBS_DATABASE_URL"),
                   help="PostgreSQL server to create a throwaway database on "
                        "(default: GRIDJOBS_DATABASE_URL, else embedded PostgreSQL)")
    p.add_argument("--survey-roles", default=",".join(SURVEY_ROLES),
                   help="profile roles the ceiling's survey reads (default: those gridjobs' "
                        f"load-shed survey reads, now {','.join(SURVEY_ROLES)})")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                   help=f"timed sheds per side; figures are medians (default {DEFAULT_ROUNDS})")
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    args = p.parse_args(argv)
    if args.devices < 1 or args.rounds < 1:
        p.error("--devices and --rounds must be at least 1")
    args.survey_roles = tuple(r for r in args.survey_roles.split(",") if r)
    args.gateways = args.gateways or math.ceil(args.devices / DEVICES_PER_GATEWAY)
    args.shards = args.shards or from_env(os.environ).shards
    return args


# -- the fleet ------------------------------------------------------------------

def start_simulator(workdir: Path, *, devices: int, gateways: int,
                    fleet: Path | None = None) -> tuple[Child, Path]:
    inventory = workdir / "inventory.json"
    shape = (["--fleet", str(fleet)] if fleet else
             ["--devices", str(devices), "--gateways", str(gateways)])
    cmd = [sys.executable, "-m", "simulators", *shape, "--host", HOST, "--port", "0",
           "--inventory", str(inventory)]
    return Child(cmd, log_path=workdir / "simulator.log", stdout_pipe=True), inventory


def await_listening(sim: Child) -> None:
    line = sim.read_line(STARTUP_TIMEOUT_S)
    if "listening" not in line:
        raise RuntimeError(f"simulator did not start: {line!r} {sim.log_tail()}")


LOADS = ProfileCatalog()


def sheddable(devices: list[dict]) -> list[dict]:
    """The devices a load shed may curtail: non-protected loads (not generation)."""
    return [d for d in devices if not d["protected"] and LOADS.is_load(d["profile"])]


def shed_body(devices: list[dict]) -> dict:
    """More than achievable: every non-protected load is a candidate and gets curtailed."""
    sheddable_kw = sum(d["rated_kw"] for d in sheddable(devices))
    return {"kind": "load_shed", "params": {
        "target_kw": math.ceil(sheddable_kw) + 1.0,
        "scope": {"feeders": sorted({d["feeder"] for d in devices})},
        "hold_s": None,
        "revert_timeout_s": REVERT_TIMEOUT_S,
    }}


# -- gridjobs -------------------------------------------------------------------

@dataclass(frozen=True)
class ShedTiming:
    op_id: str
    posted_at: float      # wall clock, to line up with the server's log timestamps
    seconds: float
    polls: int
    streamed_s: float     # POST -> the streamed operation.progress that showed every device done


async def import_devices(http: httpx.AsyncClient, devices: list[dict]) -> int:
    upserted = 0
    for start in range(0, len(devices), IMPORT_BATCH):
        response = await http.post("/v1/devices", json=devices[start:start + IMPORT_BATCH])
        response.raise_for_status()
        upserted += response.json()["upserted"]
    return upserted


async def timed_shed(http: httpx.AsyncClient, body: dict, eligible: int) -> ShedTiming:
    """POST the shed, then poll until every eligible device has a final outcome.

    The polls go through `Poller` (the standard library's http.client, one kept-alive
    connection, in a thread), not httpx: on this 2-core machine the bench's own client
    shares the CPU with gridjobs, and httpx cost about 3 ms of CPU per poll (45 ms per
    1,000-device round), time the ceiling's side never pays.

    Meanwhile a `Listener` follows the operation's event stream, as control-room software
    that does not poll would: when did a pushed operation.progress show the same?"""
    with Poller(str(http.base_url), dict(http.headers)) as poller, \
            Listener(str(http.base_url), dict(http.headers)) as listener:
        posted_at, started = time.time(), time.perf_counter()
        response = await http.post("/v1/operations", json=body,
                                   headers={"Idempotency-Key": f"bench-shed-{uuid.uuid4()}"})
        if response.status_code != 202:
            raise RuntimeError(f"submit -> {response.status_code}: {response.text[:500]}")
        op_id = response.json()["id"]
        heard = asyncio.create_task(asyncio.to_thread(listener.until_done, op_id, eligible))
        try:
            polls = await asyncio.to_thread(poller.until_done, f"/v1/operations/{op_id}", eligible)
            polled_s = time.perf_counter() - started
            async with asyncio.timeout(WAIT_TIMEOUT_S):
                streamed_s = await heard - started
        finally:
            listener.close()   # unblocks its thread, should the poll have failed
            await asyncio.gather(heard, return_exceptions=True)
        return ShedTiming(op_id, posted_at, polled_s, polls, streamed_s)


def _done(progress: dict, eligible: int) -> bool:
    return progress["total"] == eligible and progress["pending"] == 0


class Poller:
    """GET an operation every POLL_INTERVAL_S on one kept-alive connection (blocking: run
    it in a thread) until its progress shows every eligible device done; bounded by
    WAIT_TIMEOUT_S overall and HTTP_TIMEOUT_S per request."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        where = urlsplit(base_url)
        self._conn = HTTPConnection(where.hostname, where.port, timeout=HTTP_TIMEOUT_S)
        self._headers = {k: v for k, v in headers.items() if k.lower() == "authorization"}

    def __enter__(self) -> "Poller":
        self._conn.connect()   # before the clock starts, as httpx's pooled connection is
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def until_done(self, path: str, eligible: int) -> int:
        deadline, polls, progress = time.monotonic() + WAIT_TIMEOUT_S, 0, None
        while time.monotonic() < deadline:
            self._conn.request("GET", path, headers=self._headers)
            reply = self._conn.getresponse()
            payload = reply.read()
            if reply.status != 200:
                raise RuntimeError(f"GET {path} -> {reply.status}: {payload[:500]!r}")
            op = json.loads(payload)
            polls += 1
            progress = op["progress"]
            if _done(progress, eligible):
                return polls
            if op["status"] in TERMINAL:
                raise RuntimeError(f"operation ended early: {op['status']} {op['error']} {progress}")
            time.sleep(POLL_INTERVAL_S)
        raise RuntimeError(f"{eligible} devices not all done within {WAIT_TIMEOUT_S:g} s; "
                           f"last progress {progress}")


class Listener:
    """GET /v1/operations/{id}/events (Server-Sent Events) on a kept-alive connection
    (blocking: run it in a thread), until an operation.progress shows every eligible
    device done; each read bounded by HTTP_TIMEOUT_S (the stream pings well within it),
    the whole by WAIT_TIMEOUT_S."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        where = urlsplit(base_url)
        self._conn = HTTPConnection(where.hostname, where.port, timeout=HTTP_TIMEOUT_S)
        self._headers = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        self._headers["Accept"] = "text/event-stream"

    def __enter__(self) -> "Listener":
        self._conn.connect()   # before the clock starts, as the poller's is
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Also from another thread: shutdown wakes a read blocked on the socket."""
        if self._conn.sock is not None:
            with suppress(OSError):
                self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()

    def until_done(self, op_id: str, eligible: int) -> float:
        """time.perf_counter() when the event that showed every device done was read."""
        path = f"/v1/operations/{op_id}/events"
        self._conn.request("GET", path, headers=self._headers)
        reply = self._conn.getresponse()
        if reply.status != 200:
            raise RuntimeError(f"GET {path} -> {reply.status}: {reply.read()[:500]!r}")
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while time.monotonic() < deadline:
            line = reply.readline()
            if not line:
                raise RuntimeError(f"the event stream of {op_id} ended before every device was done")
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            if event["type"] == "operation.progress" and _done(event["data"]["progress"], eligible):
                return time.perf_counter()
            if event["type"] in TERMINAL_EVENTS:
                raise RuntimeError(f"operation ended early: {event}")
        raise RuntimeError(f"no event showed {eligible} devices done within {WAIT_TIMEOUT_S:g} s")


@dataclass(frozen=True)
class Outcomes:
    counts: dict[str, int]   # "state/step[/code]" -> devices
    last_update: float       # wall clock of the newest outcome write (server side)


async def outcomes(http: httpx.AsyncClient, op_id: str) -> Outcomes:
    counts: Counter[str] = Counter()
    last = 0.0
    params: dict = {"limit": OUTCOME_PAGE}
    for _ in range(MAX_OUTCOME_PAGES):
        page = (await http.get(f"/v1/operations/{op_id}/devices", params=params)).json()
        for o in page["items"]:
            counts["/".join(filter(None, (o["state"], o["step"], o["code"])))] += 1
            if o["updated_at"]:
                last = max(last, datetime.fromisoformat(o["updated_at"]).timestamp())
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    return Outcomes(dict(counts), last)


async def cancel_and_wait(http: httpx.AsyncClient, op_id: str) -> dict:
    started = time.perf_counter()
    response = await http.post(f"/v1/operations/{op_id}/cancel")
    async with asyncio.timeout(WAIT_TIMEOUT_S):
        while True:
            op = (await http.get(f"/v1/operations/{op_id}")).json()
            if op["status"] in TERMINAL:
                break
            await asyncio.sleep(POLL_INTERVAL_S * 4)
    result = op["result"] or {}
    return {"cancel_http": response.status_code, "status": op["status"],
            "seconds": round(time.perf_counter() - started, 3),
            "restored": result.get("restored"), "restore_failed": result.get("restore_failed")}


def phases_from_log(log_path: Path, op_id: str, posted_at: float,
                    events: Iterable[str] = PHASE_EVENTS) -> dict[str, float]:
    """Seconds after the POST at which the server logged each of `events` (first occurrence)."""
    events = frozenset(events)
    phases: dict[str, float] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        event = entry.get("event") if isinstance(entry, dict) else None
        if event in events and entry.get("operation_id") == op_id and event not in phases:
            at = datetime.fromisoformat(entry["timestamp"]).timestamp()
            phases[event] = round(at - posted_at, 3)
    return phases


@dataclass(frozen=True)
class GridjobsRound:
    seconds: float                # POST -> the poll that saw every device done
    streamed_s: float             # POST -> the pushed event that showed it
    recorded_s: float             # POST -> the newest outcome write (server clock, same host)
    polls: int
    phases: dict[str, float]
    outcomes: dict[str, int]
    restore: dict


async def gridjobs_round(http: httpx.AsyncClient, devices: list[dict], eligible: int,
                         log_path: Path) -> GridjobsRound:
    shed = await timed_shed(http, shed_body(devices), eligible)
    recorded = await outcomes(http, shed.op_id)
    restore = await cancel_and_wait(http, shed.op_id)  # the log has the phases by now
    return GridjobsRound(shed.seconds, shed.streamed_s, recorded.last_update - shed.posted_at, shed.polls,
                         phases_from_log(log_path, shed.op_id, shed.posted_at),
                         recorded.counts, restore)


async def run_rounds(args: argparse.Namespace, dsn: str, devices: list[dict],
                     workdir: Path) -> list[tuple[GridjobsRound, CeilingResult]]:
    """Each round: a gridjobs shed (restored afterwards), then the ceiling, back to back.

    Taking turns spreads whatever else the machine is doing over both sides;
    the idle gridjobs server (and its Ray) costs the ceiling nothing measurable.
    """
    # gridjobs runs as `gridjobs serve` in its own process, as it is deployed:
    # its event loop and GIL are not shared with this script's HTTP polling or
    # with the ceiling's pymodbus clients, and stopping its process group stops
    # its local Ray with it.
    eligible = sheddable(devices)
    timeout_s = from_env(os.environ).request_timeout_s  # the per-request timeout gridjobs uses
    log_path = workdir / "gridjobs.log"
    server = gridjobs_serve(dsn, port=free_port(), log_path=log_path, shards=args.shards)
    rounds = []
    try:
        await server.wait_ready("/readyz")
        async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S, headers=server.headers) as http:
            if (imported := await import_devices(http, devices)) != len(devices):
                raise RuntimeError(f"imported {imported} of {len(devices)} devices")
            for _ in range(args.rounds):
                shed = await gridjobs_round(http, devices, len(eligible), log_path)
                ceiling = await run_ceiling(eligible, request_timeout_s=timeout_s,
                                            revert_timeout_s=REVERT_TIMEOUT_S,
                                            survey_roles=args.survey_roles)
                rounds.append((shed, ceiling))
    except BaseException:
        print(f"gridjobs server log (tail):\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
    return rounds


# -- one run ------------------------------------------------------------------------

async def bench(args: argparse.Namespace, dsn: str, inventory: Path, workdir: Path) -> dict:
    devices = json.loads(inventory.read_text())
    pairs = await run_rounds(args, dsn, devices, workdir)
    eligible = len(sheddable(devices))
    return figures(args, eligible, [g for g, _ in pairs], [c for _, c in pairs])


def figures(args: argparse.Namespace, eligible: int, rounds: list[GridjobsRound],
            ceilings: list[CeilingResult]) -> dict:
    """Medians over the rounds; the ratio is median gridjobs / median ceiling."""
    g = median_low([r.seconds for r in rounds])
    typical = next(r for r in rounds if r.seconds == g)
    c = median_low([x.seconds for x in ceilings])
    recorded = median_low([r.recorded_s for r in rounds])
    streamed = median_low([r.streamed_s for r in rounds])
    return {
        "devices": args.devices, "gateways": args.gateways, "shards": args.shards,
        "eligible": eligible, "rounds": args.rounds, "revision": source_revision(),
        "gridjobs_s": round(g, 3), "ceiling_s": round(c, 3), "ratio": round(g / c, 2),
        "paired_ratio": round(median(r.seconds / x.seconds for r, x in zip(rounds, ceilings)), 2),
        "recorded_s": round(recorded, 3), "recorded_ratio": round(recorded / c, 2),
        "streamed_s": round(streamed, 3), "streamed_ratio": round(streamed / c, 2),
        "streamed_rounds_s": [round(r.streamed_s, 3) for r in rounds],
        "gridjobs_rounds_s": [round(r.seconds, 3) for r in rounds],
        "ceiling_rounds_s": [round(x.seconds, 3) for x in ceilings],
        "polls": typical.polls, "phases_s": typical.phases,
        "ceiling_survey_s": round(median_low([x.survey_s for x in ceilings]), 3),
        "ceiling_requests": ceilings[0].requests, "survey_roles": list(args.survey_roles),
        "gridjobs_outcomes": _total(r.outcomes for r in rounds),
        "ceiling_outcomes": _total(x.outcomes for x in ceilings),
        "restores": [r.restore for r in rounds],
        "found_not_restored": sum(x.not_restored_before for x in ceilings),
        "ceiling_restore": _total(x.restore_outcomes for x in ceilings), "goal": GOAL,
        "complete": _complete(rounds, ceilings, eligible),
    }


def _complete(rounds: list[GridjobsRound], ceilings: list[CeilingResult], eligible: int) -> bool:
    """Whether every round curtailed every eligible device on both sides."""
    return (all(r.outcomes == {"succeeded/curtailed": eligible} for r in rounds)
            and all(x.outcomes == {"ok": eligible} for x in ceilings))


def _total(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    return dict(sum((Counter(c) for c in counts), Counter()))


def report(f: dict) -> str:
    phases = ", ".join(f"{k} {v:.3f}" for k, v in f["phases_s"].items()) or "n/a"
    restores = f["restores"]
    statuses = ",".join(sorted({r["status"] for r in restores}))
    return "\n".join([
        f"shed: {f['devices']} devices ({f['eligible']} non-protected), {f['gateways']} gateways, "
        f"{f['shards']} shards, {f['rounds']} rounds; gridjobs {f['revision']}",
        f"gridjobs : {f['gridjobs_s']:.3f} s  median, POST -> every non-protected device verified "
        f"curtailed, polled every {POLL_INTERVAL_S * 1000:.0f} ms; rounds {f['gridjobs_rounds_s']}",
        f"           pushed on the event stream: {f['streamed_s']:.3f} s median; rounds "
        f"{f['streamed_rounds_s']}",
        f"           newest outcome row stamped {f['recorded_s']:.3f} s after POST (median); "
        f"median round's server log, s after POST: {phases}",
        f"ceiling  : {f['ceiling_s']:.3f} s  median, same {f['ceiling_requests']} requests through raw "
        f"pymodbus, one client per gateway; rounds {f['ceiling_rounds_s']}; survey "
        f"({'+'.join(f['survey_roles'])}) done at {f['ceiling_survey_s']:.3f} s",
        f"ratio    : {f['ratio']:.2f}  gridjobs / ceiling, medians (median of per-round ratios "
        f"{f['paired_ratio']:.2f}; by the pushed event {f['streamed_ratio']:.2f}; by newest outcome "
        f"write {f['recorded_ratio']:.2f})",
        f"gridjobs outcomes, all rounds: {format_counts(f['gridjobs_outcomes'])}",
        f"ceiling outcomes, all rounds : {format_counts(f['ceiling_outcomes'])}",
        f"restore (untimed): cancel -> {statuses} in {[r['seconds'] for r in restores]} s; "
        f"restored={sum(r['restored'] or 0 for r in restores)} "
        f"restore_failed={sum(r['restore_failed'] or 0 for r in restores)}; the ceiling then found "
        f"{f['found_not_restored']} devices not at 100 %",
        *([] if f["complete"] else [
            "WARNING: some devices were not curtailed; the timings do not measure a full shed"]),
        GOAL,
    ])


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    logs.configure(level="info")  # to stderr; stdout carries the figures
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-shed-") as tmp:
        workdir = Path(tmp)
        with bench_database(args.database_url, workdir) as dsn:
            sim, inventory = start_simulator(workdir, devices=args.devices, gateways=args.gateways,
                                             fleet=args.fleet)
            try:
                await_listening(sim)
                result = asyncio.run(bench(args, dsn, inventory, workdir))
            finally:
                sim.stop()
    print(report(result))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
