"""The CLI a field engineer meets (issue 12): tables, --json, Ctrl-C during --wait,
advice instead of tracebacks, settings that say what is wrong. Subprocesses against
a real `gridjobs serve` and a simulated fleet on loopback."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import httpx
import pytest

from gridjobs.transport import free_port
from tests.acceptance.cli_fixtures import GRIDJOBS, server, simulator  # noqa: F401 (fixtures)
from tests.acceptance.server import ServerProcess

STATUS_TRIES = 240          # x 0.25 s: how long a test waits for a status, at most
FOLLOW_LINE_TIMEOUT_S = 60.0


def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*GRIDJOBS, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **env})


def test_version():
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("gridjobs ") and "unknown" not in done.stdout


@pytest.mark.parametrize("variable, value, allowed", [
    ("GRIDJOBS_LOG_LEVEL", "verbose", "'info'"),
    ("GRIDJOBS_PORT", "eighty", "integer"),
    ("GRIDJOBS_ALLOW_PLAINTEXT", "maybe", "boolean"),
])
def test_a_bad_setting_is_one_line_and_exit_2(variable, value, allowed):
    done = run("serve", **{variable: value})
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert variable in lines[0] and repr(value) in lines[0] and allowed in lines[0]


def test_a_bad_flag_value_names_the_flag():
    done = run("config", "--lease-s", "soon")
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "gridjobs: error: --lease-s 'soon' is not allowed: "
        "input should be a valid number, unable to parse string as a number"]


def test_a_refused_connection_gives_a_hint_not_a_traceback():
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    for verb in (["ops", "list"], ["status", "00000000-0000-0000-0000-000000000000"]):
        done = run(*verb, "--url", url)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
        assert url in done.stderr and "connection refused" in done.stderr
        assert "gridjobs serve" in done.stderr


def test_config_shows_the_settings_and_hides_secrets(tmp_path):
    secret_env = {"GRIDJOBS_DATABASE_URL": "postgresql://ops:pw-s3cret@db.example:5432/grid?sslmode=require",
                  "GRIDJOBS_TOKEN": "gj_tok3n-value-never-printed", "GRIDJOBS_LEASE_S": "9"}
    table = run("config", "--poll-s", "1.5", **secret_env)
    as_json = run("config", "--json", "--poll-s", "1.5", **secret_env)
    for done in (table, as_json):
        assert done.returncode == 0, done.stderr
        assert "pw-s3cret" not in done.stdout + done.stderr
        assert "tok3n" not in done.stdout + done.stderr
    shown = json.loads(as_json.stdout)
    assert shown["database_url"] == {"value": "postgresql://ops:****@db.example:5432/grid?sslmode=require",
                                     "from": "GRIDJOBS_DATABASE_URL"}
    assert shown["lease_s"] == {"value": "9.0", "from": "GRIDJOBS_LEASE_S"}
    assert shown["poll_s"] == {"value": "1.5", "from": "--poll-s"}
    assert shown["token"] == {"value": "set (hidden)", "from": "GRIDJOBS_TOKEN"}
    assert shown["port"]["from"] == "default"
    assert "database_url" in table.stdout and "GRIDJOBS_LEASE_S" in table.stdout


def test_completion_script():
    done = run("completion", "bash")
    assert done.returncode == 0 and "gridjobs" in done.stdout and "complete" in done.stdout


def _api_status(server: ServerProcess, op_id: str) -> str:
    return httpx.get(f"{server.url}/v1/operations/{op_id}", headers=server.headers, timeout=10).json()["status"]


def _until(server: ServerProcess, op_id: str, wanted: set[str]) -> str:
    status = ""
    for _ in range(STATUS_TRIES):
        status = _api_status(server, op_id)
        if status in wanted:
            return status
        time.sleep(0.25)
    return status


async def test_ops_list_status_and_devices(simulator, server):
    url = ["--url", server.url, "--token-file", str(server.token_file)]
    assert run("devices", "import", str(simulator), *url).returncode == 0
    done = run("submit", "load-shed", "--target-kw", "20", "--feeders", "F1,F2", "--hold-s", "0.5",
               "--wait", *url)
    assert done.returncode == 0, done.stdout + done.stderr
    op_id = done.stdout.split()[1]
    assert "ok=" not in done.stdout and "ok=" in done.stderr, "progress belongs on stderr"
    assert "succeeded" in done.stderr, "the progress lines (stderr, not a terminal) name the status"

    # ops list: a table for people, the API's JSON for scripts, filtered by kind, status, feeder
    table = run("ops", "list", *url)
    assert table.returncode == 0 and op_id in table.stdout and "load_shed" in table.stdout, table.stderr
    listed = json.loads(run("ops", "list", "--json", *url).stdout)
    assert [op["id"] for op in listed] == [op_id] and listed[0]["progress"]["total"] > 0
    assert [op["id"] for op in json.loads(run("ops", "list", "--json", "--kind", "load-shed",
                                               "--status", "succeeded", "--feeder", "F2", *url).stdout)] == [op_id]
    assert json.loads(run("ops", "list", "--json", "--kind", "rollout", *url).stdout) == []
    assert json.loads(run("ops", "list", "--json", "--feeder", "F4", *url).stdout) == []
    assert json.loads(run("ops", "list", "--json", "--status", "running", *url).stdout) == []
    bad = run("ops", "list", "--kind", "lunch", *url)
    assert bad.returncode == 2 and "load-shed" in bad.stderr

    # status: a panel, or the API's JSON
    panel = run("status", op_id, *url)
    assert panel.returncode == 0, panel.stderr
    for word in ("load_shed", "succeeded", "target", "achieved", "feeders F1,F2", "submitted by"):
        assert word in panel.stdout, (word, panel.stdout)
    op = json.loads(run("status", op_id, "--json", *url).stdout)
    assert op["id"] == op_id and op["status"] == "succeeded" and op["result"]["achieved_kw"] > 0

    # --devices: a per-device table, filtered by state and code
    outcomes = json.loads(run("status", op_id, "--devices", "--json", *url).stdout)
    assert outcomes and {o["device_id"] for o in outcomes} <= {d["id"] for d in json.loads(simulator.read_text())}
    by_state: dict[str, list[str]] = {}
    for o in outcomes:
        by_state.setdefault(o["state"], []).append(o["device_id"])
    devices = run("status", op_id, "--devices", *url)
    assert devices.returncode == 0 and all(o["device_id"] in devices.stdout for o in outcomes), devices.stdout
    for state, ids in by_state.items():
        only = json.loads(run("status", op_id, "--devices", "--json", "--state", state, *url).stdout)
        assert sorted(o["device_id"] for o in only) == sorted(ids)
        shown = run("status", op_id, "--devices", "--state", state, *url).stdout
        assert all(d in shown for d in ids)
        assert not any(d in shown for s, other in by_state.items() if s != state for d in other)
    assert json.loads(run("status", op_id, "--devices", "--json", "--code", "no_such_code", *url).stdout) == []
    assert json.loads(run("status", op_id, "--devices", "--json", "--state", "failed", *url).stdout) == [
        o for o in outcomes if o["state"] == "failed"]

    # --follow on an operation that has ended: the panel at once; with --json, the API's JSON
    followed = run("status", op_id, "--follow", *url)
    assert followed.returncode == 0 and "load_shed" in followed.stdout and "achieved" in followed.stdout
    assert json.loads(run("status", op_id, "--follow", "--json", *url).stdout)["status"] == "succeeded"

    # a token the server does not know: exit 2, where a token comes from, no traceback
    (server.token_file.parent / "stale.token").write_text("gj_not-a-token")
    stale = run("ops", "list", "--url", server.url, "--token-file", str(server.token_file.parent / "stale.token"))
    assert stale.returncode == 2 and "401" in stale.stderr and "gridjobs tokens create" in stale.stderr
    assert "Traceback" not in stale.stderr and "gj_not-a-token" not in stale.stderr

    # the other kinds go through the CLI to the server's own checks (this fleet has no DER
    # and no device that authenticates: the server says so, and the CLI exits 2)
    der = run("submit", "der-curtailment", "--reduce-kw", "5", "--feeders", "F1", "--hold-s", "1",
              "--dry-run", *url)
    assert der.returncode == 2 and "DER curtailment" in der.stderr, der.stderr
    rotation = run("submit", "key-rotation", "--feeders", "F1", "--max-parallel", "2", *url)
    assert rotation.returncode == 2 and "key rotation" in rotation.stderr, rotation.stderr


def _start_waiting(url: list[str], *extra: str) -> tuple[subprocess.Popen, str]:
    """`submit load-shed --wait` with a long hold, once it follows the operation."""
    proc = subprocess.Popen([*GRIDJOBS, "submit", "load-shed", "--target-kw", "20", "--feeders", "F1",
                             "--hold-s", "600", "--wait", *extra, *url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    op_id = proc.stdout.readline().split()[1]   # "accepted ID (queued)"
    ready, _, _ = select.select([proc.stderr], [], [], FOLLOW_LINE_TIMEOUT_S)
    assert ready, "no progress line"
    assert proc.stderr.readline().startswith("["), "the first progress line"
    return proc, op_id


async def test_ctrl_c_during_wait_leaves_it_running_and_says_so(simulator, server):
    url = ["--url", server.url, "--token-file", str(server.token_file)]
    assert run("devices", "import", str(simulator), *url).returncode == 0
    proc, op_id = _start_waiting(url)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"operation {op_id} still running: `gridjobs cancel {op_id}` to stop it" in err
    assert _api_status(server, op_id) in {"queued", "running"}
    assert _until(server, op_id, {"running"}) == "running"   # it goes on without the CLI
    assert run("cancel", op_id, *url).returncode == 0
    assert _until(server, op_id, {"cancelled"}) == "cancelled"


async def test_ctrl_c_with_cancel_on_interrupt_cancels(simulator, server):
    url = ["--url", server.url, "--token-file", str(server.token_file)]
    assert run("devices", "import", str(simulator), *url).returncode == 0
    proc, op_id = _start_waiting(url, "--cancel-on-interrupt")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and f"cancel requested for operation {op_id}" in err
    assert _until(server, op_id, {"cancelled"}) == "cancelled"
    assert json.loads(run("status", op_id, "--json", *url).stdout)["cancelled_by"]
