"""kill -9 of the server during a key rotation, then a restart: the rotation
completes and no device ends with a key the store does not hold."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from gridjobs.device_keys import load_master_key
from gridjobs.device_keys.store import keys_for
from gridjobs.store.database import create_pool
from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.support import serving, wait_for_status, wait_until


@pytest.fixture
def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log")
    yield proc
    proc.stop()


async def test_kill9_mid_rotation_then_restart_completes(server, db_url, tmp_path):
    fleet = Fleet.from_spec_document({
        "fleet": {"seed": 21, "gateways": 2, "feeders": ["F1"]},
        "group": [{"name": "sec", "profile": "secure_load", "count": 40}],
    }, host="127.0.0.1", port=0)
    key_file = tmp_path / "master.key"  # ServerProcess created it
    async with serving(fleet):
        await server.start()
        fleet.write_keys(tmp_path / "keys.json")
        done = subprocess.run([sys.executable, "-m", "gridjobs", "keys", "provision", str(tmp_path / "keys.json"),
                               "--database-url", db_url, "--master-key-file", str(key_file)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            await client.post("/v1/devices", json=fleet.inventory())
            body = {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1"]}, "max_parallel": 5}}
            op_id = (await client.post("/v1/operations", json=body)).json()["id"]

            async def midway():
                rotated = sum(d.auth.active_version == 2 for d in fleet.devices)
                return 0 < rotated < 35
            await wait_until(midway, timeout_s=60, interval_s=0.01)
        server.kill9()
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            op = await wait_for_status(client, op_id, timeout_s=120)
        assert op["status"] == "succeeded", op
        pool = await create_pool(db_url, min_size=1, max_size=2)
        try:
            held = await keys_for(pool, load_master_key(key_file), [d.spec.id for d in fleet.devices],
                                  states=("active",))
        finally:
            await pool.close()
        for device in fleet.devices:
            [active] = held[device.spec.id]
            assert device.accepts(active.secret), device.spec.id  # never an unknown key
            assert device.auth.active_version == active.version == 2
