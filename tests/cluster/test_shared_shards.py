"""Two API processes on one Ray cluster drive every device through one shard set.

Issue 13: each process used to create shards of its own, so a shed run by one
process could write to a device mid-transfer of a rollout run by another. Here
the rollout runs in one process, the shed in the other (each can run one
operation at a time), on the same RTUs: the shed goes in between two chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.cluster.conftest import list_shards
from tests.support import serving, wait_for_status, wait_until

pytestmark = pytest.mark.cluster

IMAGE = os.urandom(96 * 1024)  # 410 chunks: long enough to shed in the middle
CHUNK_ROLES = {"fw_chunk_offset", "fw_chunk_len", "fw_chunk_data"}
SETPOINT = "curtail_setpoint_pct"
SHARDS = 2


def rtu_fleet(count: int) -> Fleet:
    return Fleet.from_spec_document({
        "fleet": {"seed": 13, "gateways": 2, "feeders": ["F1"]},
        "group": [{"name": "rtu", "profile": "rtu", "count": count, "rated_kw": [5.0, 20.0],
                   "firmware_version": "4.2.0", "reboot_s": 0.2, "confirm_window_s": 3.0}],
    }, host="127.0.0.1", port=0)


def server(db_url: str, log: Path, address: str) -> ServerProcess:
    return ServerProcess(db_url, log, extra_args=["--ray-address", address], GRIDJOBS_MAX_RUNNING="1")


def log_events(path: Path, event: str) -> list[dict]:
    found = []
    for line in path.read_text().splitlines():
        if f'"{event}"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return [e for e in found if e.get("event") == event]


def started(path: Path) -> set[str]:
    return {e["operation_id"] for e in log_events(path, "operation_started")}


async def test_two_processes_share_the_shards_and_a_shed_goes_between_chunks(db_url, tmp_path,
                                                                           stop_shards_after):
    address = stop_shards_after
    a, b = server(db_url, tmp_path / "a.log", address), server(db_url, tmp_path / "b.log", address)
    fleet = rtu_fleet(4)
    try:
        async with serving(fleet):
            await a.start()
            await b.start()
            async with httpx.AsyncClient(base_url=a.url, timeout=10, headers=a.headers) as client:
                await client.post("/v1/devices", json=fleet.inventory())
                fw = (await client.post("/v1/firmware", params={"version": "4.2.1", "profile": "rtu"},
                                        content=IMAGE,
                                        headers={"content-type": "application/octet-stream"})).json()["id"]
                rollout = {"kind": "firmware_rollout", "params": {
                    "firmware_id": fw, "scope": {"feeders": ["F1"]}, "waves": ["100%"],
                    "max_parallel": 4, "device_timeout_s": 60}}
                rollout_id = (await client.post("/v1/operations", json=rollout)).json()["id"]

                async def transferring():
                    return all(0 < d.counters.fw_bytes_received < len(IMAGE) // 2 for d in fleet.devices)
                await wait_until(transferring, timeout_s=60, interval_s=0.02)
            # Whichever claimed the rollout may run nothing else: the other one runs the shed.
            runner = a if rollout_id in started(a.log_path) else b
            other = b if runner is a else a
            async with httpx.AsyncClient(base_url=other.url, timeout=10, headers=other.headers) as client:
                shed = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": ["F1"]},
                                                        "hold_s": 0}}
                shed_id = (await client.post("/v1/operations", json=shed)).json()["id"]
                shed_op = await wait_for_status(client, shed_id, timeout_s=60)
                mid = [d.counters.fw_bytes_received for d in fleet.devices]
                done = await wait_for_status(client, rollout_id, timeout_s=120)
    finally:
        a.stop()
        b.stop()
    assert shed_op["status"] == "succeeded", shed_op
    assert done["status"] == "succeeded", done
    assert any(m < len(IMAGE) for m in mid), "the shed ran while transfers were still going"
    assert rollout_id in started(runner.log_path) and shed_id in started(other.log_path)

    # One shard set: both processes attached to the same actors, and nothing else exists.
    ids_a, ids_b = (log_events(p, "shards_attached")[0]["actor_ids"] for p in (a.log_path, b.log_path))
    listed = list_shards(address)
    assert ids_a == ids_b and len(ids_a) == SHARDS
    assert sorted(e["actor_id"] for e in listed) == sorted(ids_a)
    curtailing = [e for e in listed if e["calls"].get("curtail")]
    assert curtailing
    for entry in curtailing:   # the actor that curtailed a device also ran its transfer
        assert entry["calls"].get("fw_transfer"), entry

    shed_devices = 0
    for device in fleet.devices:
        assert device.firmware_version == "4.2.1"
        log = fleet.write_log(device.spec.id)
        chunks = [(i, r) for i, r in enumerate(log) if CHUNK_ROLES & set(r.roles)]
        assert all(CHUNK_ROLES <= set(r.roles) for _, r in chunks), "a chunk split across writes"
        curtails = [i for i, r in enumerate(log) if SETPOINT in r.roles]
        if not curtails:
            continue   # not needed for the target
        shed_devices += 1
        inside = [i for i in curtails if chunks[0][0] < i < chunks[-1][0]]
        assert inside, f"{device.spec.id}: the shed did not land mid-transfer"
        before = max((j, r) for j, r in chunks if j < inside[0])[1]
        after = min((j, r) for j, r in chunks if j > inside[0])[1]
        # at a chunk boundary: the transfer goes on with the next chunk, not from zero
        assert after.values["fw_chunk_offset"] == (before.values["fw_chunk_offset"]
                                                   + before.values["fw_chunk_len"]), device.spec.id
    assert shed_devices, "the shed curtailed nothing"

    # The count was recorded at the first attach: a process with another one is refused (exit 2).
    refused = subprocess.run([sys.executable, "-m", "gridjobs", "serve", "--database-url", db_url,
                              "--ray-address", address, "--shards", str(SHARDS + 1), "--port", "0"],
                             env=a.env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert f"this cluster runs {SHARDS} shards" in refused.stderr and f"--shards {SHARDS}" in refused.stderr



async def test_kill9_of_one_of_two_processes_mid_shed(db_url, tmp_path, stop_shards_after):
    """The other process takes the shed over once the lease expires and completes it on the
    same shards: every device curtailed once and restored once."""
    address = stop_shards_after
    a = ServerProcess(db_url, tmp_path / "a.log", extra_args=["--ray-address", address])
    b = ServerProcess(db_url, tmp_path / "b.log", extra_args=["--ray-address", address])
    fleet = Fleet.build(devices=8, gateways=1, host="127.0.0.1", port=0, seed=21)
    try:
        async with serving(fleet):
            await a.start()
            await b.start()
            async with httpx.AsyncClient(base_url=a.url, timeout=10, headers=a.headers) as client:
                inventory = fleet.inventory()
                await client.post("/v1/devices", json=inventory)
                shed = {"kind": "load_shed", "params": {
                    "target_kw": 1_000_000, "scope": {"feeders": sorted({d["feeder"] for d in inventory})},
                    "hold_s": 8, "revert_timeout_s": 30}}
                op_id = (await client.post("/v1/operations", json=shed)).json()["id"]

                async def holding():   # every curtailment recorded: the hold has begun
                    op = (await client.get(f"/v1/operations/{op_id}")).json()
                    return op["progress"]["total"] > 0 and op["progress"]["pending"] == 0
                await wait_until(holding, timeout_s=60, interval_s=0.05)
            victim, survivor = (a, b) if op_id in started(a.log_path) else (b, a)
            victim.kill9()
            async with httpx.AsyncClient(base_url=survivor.url, timeout=10,
                                         headers=survivor.headers) as client:
                op = await wait_for_status(client, op_id, timeout_s=90)
    finally:
        a.stop()
        b.stop()
    assert op_id in started(survivor.log_path), "the survivor did not take the shed over"
    assert op["status"] in ("succeeded", "failed"), op   # failed: target_not_met (it asks for more)
    assert op["result"]["restored"] == op["result"]["devices_shed"] > 0, op["result"]
    for device in fleet.devices:
        setpoints = [int(r.values[SETPOINT]) for r in fleet.write_log(device.spec.id) if SETPOINT in r.values]
        if not setpoints:
            continue
        assert [s for s in setpoints if s < 100] == setpoints[:1], (device.spec.id, setpoints)  # once
        assert setpoints.count(100) == 1 and setpoints[-1] == 100, (device.spec.id, setpoints)
