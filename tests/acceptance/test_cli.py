"""The `gridjobs` command as a field engineer uses it, run as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.acceptance.server import ServerProcess

GRIDJOBS = [sys.executable, "-m", "gridjobs"]
VERBS = [[], ["serve"], ["demo"], ["simulate"], ["devices"], ["devices", "import"], ["submit"],
         ["submit", "load-shed"], ["status"]]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*GRIDJOBS, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "gridjobs")
def test_every_verb_has_help(verb):
    done = run(*verb, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_demo_runs_end_to_end():
    done = run("demo", "--devices", "40", "--gateways", "2", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "succeeded" in done.stdout and "demo finished" in done.stdout


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


async def test_import_submit_wait_status(simulator, server):
    url = ["--url", server.url]
    done = run("devices", "import", str(simulator), *url)
    assert done.returncode == 0 and "imported 20 devices" in done.stdout, done.stderr
    plan = run("submit", "load-shed", "--target-kw", "20", "--feeders", "F1,F2", "--hold-s", "0",
               "--dry-run", *url)
    assert plan.returncode == 0 and json.loads(plan.stdout)["plan"]["devices"], plan.stderr
    done = run("submit", "load-shed", "--target-kw", "20", "--feeders", "F1,F2", "--hold-s", "0.5",
               "--stages", "2", "--wait", *url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded" in done.stdout and "achieved_kw" in done.stdout
    op_id = done.stdout.split()[1]
    status = run("status", op_id, *url)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "succeeded"
    bad = run("submit", "load-shed", "--target-kw", "20", "--feeders", "NOPE", "--hold-s", "0", *url)
    assert bad.returncode == 2 and "unknown feeder" in bad.stderr
