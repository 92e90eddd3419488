"""``python -m simulators`` serving secure loads from a fleet file, with their keys written to a private file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys

import pytest

from adapters import DeviceClient, SessionPool, load_profile
from simulators.key_file import read_key_file
from simulators.secure_load import initial_key

STARTUP_LIMIT_S = 30
SEED = 5
FLEET_TOML = f"""
[fleet]
seed = {SEED}
sample_interval_s = 0

[[group]]
name = "sec"
profile = "secure_load"
count = 2
"""
pytestmark = pytest.mark.slow


async def test_cli_serves_secure_loads_and_writes_their_keys_privately(tmp_path):
    fleet_path, inventory_path, keys_path = tmp_path / "fleet.toml", tmp_path / "inv.json", tmp_path / "keys.json"
    fleet_path.write_text(FLEET_TOML)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators", "--fleet", str(fleet_path), "--port", "0",
        "--inventory", str(inventory_path), "--keys-out", str(keys_path), stdout=asyncio.subprocess.PIPE,
    )
    sessions = SessionPool(timeout_s=1.0)
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), STARTUP_LIMIT_S)).decode()
        assert line.startswith("listening ports=")
        inventory, keys = json.loads(inventory_path.read_text()), read_key_file(keys_path)
        assert stat.S_IMODE(os.stat(keys_path).st_mode) == 0o600
        assert keys == {r["id"]: initial_key(seed=SEED, device_id=r["id"]) for r in inventory}, "reproducible"
        assert all("secret" not in json.dumps(record) for record in inventory)
        record = inventory[1]
        session = sessions.session(host=record["host"], port=record["port"])
        client = DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))
        await client.write({"curtail_setpoint_pct": 10, "revert_timeout_s": 30}, key=keys[record["id"]])
        assert await client.read("curtail_setpoint_pct") == 10
    finally:
        await sessions.close()
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), STARTUP_LIMIT_S)
    assert exit_code == 0
