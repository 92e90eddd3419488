"""kill -9 of the server mid-transfer: the rollout completes after a restart,
transfers resume from their persisted offsets, nothing is activated twice."""

from __future__ import annotations

import os

import httpx
import pytest

from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.support import serving, wait_for_status, wait_until

CHUNK = 240
IMAGE = os.urandom(48 * 1024)


@pytest.fixture
def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log")
    yield proc
    proc.stop()


async def test_kill9_mid_transfer_resumes_from_the_persisted_offset(server):
    fleet = Fleet.from_spec_document({
        "fleet": {"seed": 6, "gateways": 2, "feeders": ["F1"]},
        "group": [{"name": "rtu", "profile": "rtu", "count": 10, "firmware_version": "4.2.0",
                   "reboot_s": 0.2, "confirm_window_s": 5.0}],
    }, host="127.0.0.1", port=0)
    async with serving(fleet):
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            await client.post("/v1/devices", json=fleet.inventory())
            fw = (await client.post("/v1/firmware", params={"version": "4.2.1", "profile": "rtu"},
                                    content=IMAGE,
                                    headers={"content-type": "application/octet-stream"})).json()["id"]
            body = {"kind": "firmware_rollout", "params": {
                "firmware_id": fw, "scope": {"feeders": ["F1"]}, "waves": ["100%"],
                "max_parallel": 10, "device_timeout_s": 30}}
            op_id = (await client.post("/v1/operations", json=body)).json()["id"]

            async def mid_transfer():
                got = [d.counters.fw_bytes_received for d in fleet.devices]
                return sum(0 < b < len(IMAGE) // 2 for b in got) >= 3
            await wait_until(mid_transfer, timeout_s=60, interval_s=0.01)
        server.kill9()
        interrupted = {d.spec.id for d in fleet.devices if 0 < d.counters.fw_bytes_received < len(IMAGE)}
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            op = await wait_for_status(client, op_id, timeout_s=180)
    assert op["status"] == "succeeded", op
    assert interrupted
    for device in fleet.devices:
        assert device.firmware_version == "4.2.1"
        assert device.counters.fw_activations == 1, device.spec.id
        # resumed from the persisted offset: at most one chunk sent twice per interruption
        assert device.counters.fw_bytes_received <= len(IMAGE) + CHUNK, device.spec.id
