"""`gridjobs demo`: embedded Postgres, local Ray, a simulated fleet and the server,
then one load shed through the REST API, followed to the end."""

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

DEMO_DEVICES = 240
DEMO_GATEWAYS = 4
STARTUP_TIMEOUT_S = 90.0
FOLLOW_TIMEOUT_S = 300.0
SHED_FRACTION = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(workdir: Path, *, devices: int, gateways: int) -> tuple[subprocess.Popen, Path]:
    inventory = workdir / "inventory.json"
    cmd = [sys.executable, "-m", "simulators", "--devices", str(devices), "--gateways",
           str(gateways), "--host", "127.0.0.1", "--port", "0", "--inventory", str(inventory)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
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
    print(f"server up at {url}; admin token in {token_file}")
    async with Client(url, token=token_file.read_text().strip()) as client:
        print(f"importing {await client.import_devices(inventory)} devices")
        request = shed_request(inventory)
        print(f"submitting load shed of {request['params']['target_kw']} kW")
        op = await client.submit(request, key="demo-load-shed")
        printer = ProgressPrinter()
        final = await client.follow(op["id"], on_update=printer, timeout_s=FOLLOW_TIMEOUT_S)
        printer.close()
        print(summary(final, await client.outcomes(op["id"])))
        return final


async def _run(settings: Settings, inventory: Path) -> dict:
    server = build_server(settings)
    serving = asyncio.create_task(server.serve())
    try:
        return await drive(f"http://{settings.host}:{settings.port}", inventory, server,
                           settings.data_dir / ADMIN_TOKEN_FILENAME)
    finally:
        server.should_exit = True
        await serving


def demo(settings: Settings, *, devices: int = DEMO_DEVICES, gateways: int = DEMO_GATEWAYS) -> int:
    with tempfile.TemporaryDirectory(prefix="gridjobs-demo-") as tmp:
        workdir = Path(tmp)
        sim, inventory = start_simulator(workdir, devices=devices, gateways=gateways)
        try:
            base = settings.model_copy(update=dict(data_dir=workdir, database_url=None, port=free_port(),
                                                   bootstrap_admin_token=True))
            with database(base) as resolved:
                final = asyncio.run(_run(resolved, inventory))
        finally:
            sim.terminate()
            sim.wait(timeout=30)
    print("demo finished: everything shut down")
    return 0 if final["status"] == "succeeded" else 1
