"""`gridjobs demo`: embedded Postgres, local Ray, a simulated fleet and the server,
then one load shed through the REST API, followed to the end. With `keep`, the
server and the fleet stay up afterwards until Ctrl-C (or SIGTERM), which stops
everything as `gridjobs serve` stops."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from gridjobs.access.admin import ADMIN_TOKEN_FILENAME
from gridjobs.client import Client
from gridjobs.config import Settings
from gridjobs.progress import ProgressPrinter, summary
from gridjobs.serve import build_server, database
from gridjobs.shutdown import StopRequest, stop_signals
from gridjobs.transport import listening_socket

DEMO_DEVICES = 240
DEMO_GATEWAYS = 4
STARTUP_TIMEOUT_S = 90.0
FOLLOW_TIMEOUT_S = 300.0
SHED_FRACTION = 0.3


def start_simulator(workdir: Path, *, devices: int, gateways: int) -> tuple[subprocess.Popen, Path]:
    inventory = workdir / "inventory.json"
    cmd = [sys.executable, "-m", "simulators", "--devices", str(devices), "--gateways",
           str(gateways), "--host", "127.0.0.1", "--port", "0", "--inventory", str(inventory)]
    # its own session: a Ctrl-C meant for the demo reaches the demo alone, which stops the fleet
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if "listening" not in line:
        proc.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return proc, inventory


def shed_request(inventory: Path) -> dict:
    devices = json.loads(inventory.read_text())
    feeders = sorted({d["feeder"] for d in devices})
    sheddable = sum(d["rated_kw"] for d in devices if not d["protected"])
    return {
        "kind": "load_shed",
        "params": {
            "target_kw": round(sheddable * SHED_FRACTION, 1),
            "scope": {"feeders": feeders},
            "hold_s": 6,
            "restore": {"stages": 3, "stage_delay_s": 2},
            "revert_timeout_s": 30,
        },
    }


async def drive(url: str, inventory: Path, server, token_file: Path) -> dict:
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        while not server.started:
            await asyncio.sleep(0.2)
    print(f"server up at {url}; admin token in {token_file}", flush=True)
    async with Client(url, token=token_file.read_text().strip()) as client:
        print(f"importing {await client.import_devices(inventory)} devices", flush=True)
        request = shed_request(inventory)
        print(f"submitting load shed of {request['params']['target_kw']} kW", flush=True)
        op = await client.submit(request, key="demo-load-shed")
        with ProgressPrinter() as printer:   # stderr; a log line never lands on the bar's line
            final = await client.follow(op["id"], on_update=printer, timeout_s=FOLLOW_TIMEOUT_S)
        print(summary(final, await client.outcomes(op["id"])), flush=True)
        return final


def next_steps(url: str, token_file: Path, feeders: list[str], *, keep: bool) -> str:
    """What to try next: the page, the token and three commands (`--keep`), or how to keep it up."""
    env = f"GRIDJOBS_URL={url} GRIDJOBS_TOKEN=$(cat {token_file})"
    if not keep:
        return ("next: `gridjobs demo --keep` leaves the server and fleet running to explore "
                "(the page, `gridjobs ops list`, `gridjobs status ID --devices`); "
                "`gridjobs serve` runs the real thing (README \"The CLI\")")
    return "\n".join([
        f"the server and the fleet keep running: open {url}/",
        f"admin token: {token_file}",
        "try, in another terminal:",
        f"  {env} gridjobs ops list",
        f"  {env} gridjobs status ID --devices --state succeeded",
        f"  {env} gridjobs submit load-shed --target-kw 50 --feeders {feeders[0]} --hold-s 30 --wait",
        "Ctrl-C stops everything.",
    ])


async def _run(settings: Settings, sock: socket.socket, inventory: Path, stop: StopRequest, *,
               keep: bool) -> dict | None:
    """The demo's shed, then (keep) serve until a stop signal; None if stopped before the shed ended."""
    server = build_server(settings, stop=stop)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://{settings.host}:{settings.port}"
    token_file = settings.data_dir / ADMIN_TOKEN_FILENAME
    driving = asyncio.create_task(drive(url, inventory, server, token_file))
    try:
        await asyncio.wait({serving, driving}, return_when=asyncio.FIRST_COMPLETED)
        if not driving.done():   # stopped (Ctrl-C, SIGTERM) while the shed ran
            driving.cancel()
            await asyncio.gather(driving, return_exceptions=True)
            return None
        final = driving.result()
        feeders = sorted({d["feeder"] for d in json.loads(inventory.read_text())})
        print(next_steps(url, token_file, feeders, keep=keep), flush=True)
        if keep:
            await serving   # until Ctrl-C or SIGTERM: the server drains as `gridjobs serve` does
        return final
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)


def demo(settings: Settings, *, devices: int = DEMO_DEVICES, gateways: int = DEMO_GATEWAYS,
         keep: bool = False) -> int:
    final = None
    with tempfile.TemporaryDirectory(prefix="gridjobs-demo-") as tmp:
        workdir = Path(tmp)
        sim, inventory = start_simulator(workdir, devices=devices, gateways=gateways)
        # Bound now, on a port the system picks, and held until the end: no other process
        # can take the port between picking it and listening on it.
        sock = listening_socket(settings.host, 0)
        try:
            base = settings.model_copy(update=dict(data_dir=workdir, database_url=None,
                                                   port=sock.getsockname()[1],
                                                   bootstrap_admin_token=True))
            with sock, stop_signals(base.drain_s) as stop, database(base) as resolved:
                if not stop.requested:
                    final = asyncio.run(_run(resolved, sock, inventory, stop, keep=keep))
        finally:
            sim.terminate()
            sim.wait(timeout=30)
    if final is None:
        print("demo stopped: everything shut down")
        return 0
    print("demo finished: everything shut down")
    return 0 if final["status"] == "succeeded" else 1
