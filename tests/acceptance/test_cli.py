"""The `gridjobs` command as a field engineer uses it, run as subprocesses."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.cli_fixtures import GRIDJOBS, server, simulator  # noqa: F401 (fixtures)

VERBS = [[], ["serve"], ["demo"], ["simulate"], ["devices"], ["devices", "import"], ["submit"],
         ["submit", "load-shed"], ["submit", "der-curtailment"], ["submit", "key-rotation"],
         ["ops"], ["ops", "list"], ["config"], ["completion"], ["status"], ["profiles"], ["profiles", "list"],
         ["profiles", "show"], ["submit", "rollout"], ["firmware", "upload"], ["firmware", "list"],
         ["cancel"], ["resume"], ["keys"], ["keys", "provision"], ["keys", "rotate-master"],
         ["keys", "slots"]]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*GRIDJOBS, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "gridjobs")
def test_every_verb_has_help(verb):
    done = run(*verb, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_readme_profile_example_is_a_valid_profile(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("# /etc/gridjobs/profiles/water_heater.toml")
    (tmp_path / "water_heater.toml").write_text(readme[start:readme.index("```", start)])
    shown = run("profiles", "show", "water_heater", "--profiles-dir", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "curtail_setpoint_pct" in shown.stdout and "measured_kw" in shown.stdout
    assert "arming: atomic" in shown.stdout
    listed = run("profiles", "list", "--profiles-dir", str(tmp_path))
    assert "water_heater" in listed.stdout and "sunspec_der" in listed.stdout
    (tmp_path / "broken.toml").write_text('name = "broken"\n[[points]]\nname = "x"\naddress = 0\n')
    bad = run("profiles", "show", "broken", "--profiles-dir", str(tmp_path))
    assert bad.returncode == 2 and "broken.toml" in bad.stderr and "point 'x'" in bad.stderr


def test_demo_runs_end_to_end():
    done = run("demo", "--devices", "40", "--gateways", "2", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "succeeded" in done.stdout and "demo finished" in done.stdout
    assert "next: `gridjobs demo --keep`" in done.stdout
    assert "ok=" not in done.stdout, "progress goes to stderr"


def test_demo_keep_serves_until_ctrl_c():
    proc = subprocess.Popen([*GRIDJOBS, "demo", "--keep", "--devices", "20", "--gateways", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for _ in range(200):   # bounded: the demo prints a few dozen lines before it waits
            lines.append(proc.stdout.readline())
            if lines[-1].startswith("Ctrl-C stops everything") or not lines[-1]:
                break
        shown = "".join(lines)
        assert "Ctrl-C stops everything" in shown, shown + proc.stderr.read()[-3000:]
        url = re.search(r"open (http://127\.0\.0\.1:\d+)/", shown).group(1)
        token_file = re.search(r"admin token: (\S+)", shown).group(1)
        assert shown.count("gridjobs ") >= 3 and f"GRIDJOBS_URL={url}" in shown
        headers = {"Authorization": f"Bearer {Path(token_file).read_text().strip()}"}
        ops = httpx.get(f"{url}/v1/operations", headers=headers, timeout=10).json()["items"]
        assert [op["status"] for op in ops] == ["succeeded"]   # still serving after the shed
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        assert "everything shut down" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


async def test_import_submit_wait_status(simulator, server):
    url = ["--url", server.url, "--token-file", str(server.token_file)]
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
    status = run("status", op_id, "--json", *url)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "succeeded"
    bad = run("submit", "load-shed", "--target-kw", "20", "--feeders", "NOPE", "--hold-s", "0", *url)
    assert bad.returncode == 2 and "unknown feeder" in bad.stderr


RTU_FLEET = """
[fleet]
seed = 4
gateways = 1
feeders = ["F1"]

[[group]]
name = "rtu"
profile = "rtu"
count = 3
firmware_version = "4.2.0"
reboot_s = 0.2
"""


async def test_field_engineer_rolls_out_firmware_with_manual_approval(tmp_path, server):
    (tmp_path / "fleet.toml").write_text(RTU_FLEET)
    (tmp_path / "image.bin").write_bytes(bytes(range(256)) * 20)
    inventory = tmp_path / "inventory.json"
    sim = subprocess.Popen([*GRIDJOBS, "simulate", "--fleet", str(tmp_path / "fleet.toml"),
                            "--port", "0", "--inventory", str(inventory)], stdout=subprocess.PIPE, text=True)
    url = ["--url", server.url, "--token-file", str(server.token_file)]
    try:
        assert "listening" in sim.stdout.readline()
        assert run("devices", "import", str(inventory), *url).returncode == 0
        up = run("firmware", "upload", str(tmp_path / "image.bin"), "--version", "4.2.1",
                 "--profile", "rtu", *url)
        assert up.returncode == 0, up.stderr
        firmware_id = up.stdout.split()[0]
        assert firmware_id in run("firmware", "list", *url).stdout
        plan = run("submit", "rollout", "--firmware-id", firmware_id, "--feeders", "F1",
                   "--waves", "1,100%", "--dry-run", *url)
        assert [len(w["device_ids"]) for w in json.loads(plan.stdout)["plan"]["waves"]] == [1, 2]
        done = run("submit", "rollout", "--firmware-id", firmware_id, "--feeders", "F1",
                   "--waves", "1,100%", "--approval", "manual", *url)
        assert done.returncode == 0, done.stderr
        op_id = done.stdout.split()[1]
        assert _status_until(op_id, url, {"paused"}) == "paused"
        own = run("resume", op_id, *url)  # the two-person rule: not the principal who submitted it
        assert own.returncode == 2 and "two-person rule" in own.stderr, own.stderr
        second = run("tokens", "create", "--name", "engineer-2", "--role", "engineer", "--all-feeders",
                     "--quiet", "--database-url", server.db_url)
        assert second.returncode == 0, second.stderr
        (tmp_path / "engineer-2.token").write_text(second.stdout.strip())
        other = ["--url", server.url, "--token-file", str(tmp_path / "engineer-2.token")]
        assert "resume requested" in run("resume", op_id, *other).stdout
        assert _status_until(op_id, url, {"succeeded", "failed", "cancelled"}) == "succeeded"
        resumed_by = json.loads(run("status", op_id, "--json", *url).stdout)["resumed_by"]
        assert resumed_by == "engineer-2"
    finally:
        sim.terminate()
        sim.wait(timeout=30)
        sim.stdout.close()


def _status_until(op_id: str, url: list[str], wanted: set[str], tries: int = 120) -> str:
    status = ""
    for _ in range(tries):  # bounded: about a minute
        status = json.loads(run("status", op_id, "--json", *url).stdout)["status"]
        if status in wanted:
            return status
        time.sleep(0.5)
    return status
