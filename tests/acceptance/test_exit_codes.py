"""Exit statuses of `gridjobs` (README "Exit codes"): 0 done (test_stop.py: SIGTERM
to `serve`), 2 bad configuration or usage, 1 anything else."""

from __future__ import annotations

import os
import subprocess
import sys

from gridjobs.device_keys import ensure_master_key

UNREACHABLE = "127.0.0.1:1"   # nothing listens on port 1


def gridjobs(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDJOBS_")}
    return subprocess.run([sys.executable, "-m", "gridjobs", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_bad_usage_exits_2():
    done = gridjobs("serve", "--port", "eighty")
    assert done.returncode == 2 and "invalid int value" in done.stderr


def test_serve_that_cannot_reach_its_database_exits_1_naming_the_cause(tmp_path):
    key = tmp_path / "master.key"
    ensure_master_key(key)
    done = gridjobs("serve", "--database-url", f"postgresql://postgres@{UNREACHABLE}/none",
                    "--master-key-file", str(key), "--port", "0")
    assert done.returncode == 1, done.stderr[-2000:]
    assert "gridjobs: error: cannot connect to PostgreSQL" in done.stderr


def test_a_client_verb_with_no_server_exits_1():
    done = gridjobs("status", "00000000-0000-4000-8000-000000000000", "--url", f"http://{UNREACHABLE}")
    assert done.returncode == 1 and "gridjobs: error:" in done.stderr
