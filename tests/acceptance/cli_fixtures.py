"""What the CLI acceptance tests share: the command, a simulated fleet and a server,
each a subprocess stopped by its fixture."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.acceptance.server import ServerProcess

GRIDJOBS = [sys.executable, "-m", "gridjobs"]


@pytest.fixture
def simulator(tmp_path):
    inventory = tmp_path / "inventory.json"
    proc = subprocess.Popen([*GRIDJOBS, "simulate", "--devices", "20", "--gateways", "2",
                             "--port", "0", "--inventory", str(inventory)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "listening" in proc.stdout.readline()
        yield inventory
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


@pytest.fixture
async def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log")
    await proc.start()
    yield proc
    proc.stop()
