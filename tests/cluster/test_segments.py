"""Placement near the devices: a segment's devices are driven from its own Ray nodes.

A head and two worker nodes, each worker offering one segment's resource
(`segment:<name>`, README "Running on a cluster"). A shed over devices of both
segments and of none: every device is driven by a shard on its segment's node;
a device without a segment by a default shard, at the same index as before
segments existed.
"""

from __future__ import annotations

import httpx
import pytest

from actors.firmware_steps import CHUNK_BYTES
from actors.placement import shard_for
from actors.pool import segment_resource
from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.cluster.conftest import list_shards
from tests.cluster.test_shared_shards import CHUNK_ROLES, IMAGE, log_events, rtu_fleet
from tests.support import outcomes, serving, wait_for_status, wait_until

pytestmark = pytest.mark.cluster

SHARDS = 2
SEGMENTS = ("north", "south")


@pytest.fixture(scope="module")
def segment_nodes(ray_cluster):
    nodes = {s: ray_cluster.add_node(num_cpus=1,
                                     resources={segment_resource(s): 1000}) for s in SEGMENTS}
    ray_cluster.wait_for_nodes()
    try:
        yield {s: node.node_id for s, node in nodes.items()}
    finally:
        for node in nodes.values():
            ray_cluster.remove_node(node)


def segment_of(index: int) -> str | None:
    return (*SEGMENTS, None)[index % 3]


async def test_every_device_is_driven_from_its_segments_node(db_url, tmp_path, segment_nodes,
                                                             stop_shards_after):
    address = stop_shards_after
    fleet = Fleet.build(devices=12, gateways=2, host="127.0.0.1", port=0, seed=13)
    server = ServerProcess(db_url, tmp_path / "server.log", extra_args=["--ray-address", address])
    try:
        async with serving(fleet):
            inventory = fleet.inventory()
            for i, device in enumerate(inventory):
                if segment_of(i):
                    device["segment"] = segment_of(i)
            wanted = {d["id"]: d.get("segment") for d in inventory if not d["protected"]}  # surveyed
            feeders = sorted({d["feeder"] for d in inventory})
            await server.start()
            async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
                assert (await client.post("/v1/devices", json=inventory)).status_code == 200
                shown = (await client.get(f"/v1/devices/{inventory[0]['id']}")).json()
                assert shown["segment"] == SEGMENTS[0]
                shed = {"kind": "load_shed", "params": {"target_kw": 1, "scope": {"feeders": feeders},
                                                        "hold_s": 0}}
                r = await client.post("/v1/operations", json=shed)
                assert r.status_code == 202, r.text
                op = await wait_for_status(client, r.json()["id"], timeout_s=90)
    finally:
        server.stop()
    assert op["status"] == "succeeded", op

    listed = {e["name"]: e for e in list_shards(address, devices=True)}
    driven = {}
    for name, entry in listed.items():
        segment = name.split("@")[1] if "@" in name else None
        if segment is not None:
            assert entry["node_id"] == segment_nodes[segment], name
        for device_id in entry["devices"]:
            assert device_id not in driven, f"{device_id} driven by two shards"
            driven[device_id] = (segment, entry["index"])
    assert set(driven) == set(wanted)
    for device_id, segment in wanted.items():
        # per-segment sets: the index is the same hash as without segments
        assert driven[device_id] == (segment, shard_for(device_id, SHARDS)), device_id


def curtail_writes(log) -> list[tuple[int, int]]:
    """(index in the write log, setpoint) of every write of the curtailment setpoint."""
    return [(i, int(r.values["curtail_setpoint_pct"])) for i, r in enumerate(log)
            if "curtail_setpoint_pct" in r.values]


async def test_a_segment_node_lost_mid_shed(db_url, tmp_path, ray_cluster, stop_shards_after):
    """While the segment has no node its devices fail fast (`shard_unavailable`) and their
    dead-man timers release them; on a replacement node the shard comes back, rebuilds
    its state from Postgres and the shed completes: restored once, never curtailed after."""
    address = stop_shards_after
    east = ray_cluster.add_node(num_cpus=1,
                                resources={segment_resource("east"): 1000})
    fleet = Fleet.build(devices=6, gateways=1, host="127.0.0.1", port=0, seed=5)
    server = ServerProcess(db_url, tmp_path / "server.log", extra_args=["--ray-address", address],
                           GRIDJOBS_SHARD_WAIT_S="2")
    replacement, lost = None, False
    try:
        async with serving(fleet):
            inventory = [{**d, "segment": "east"} for d in fleet.inventory()]
            await server.start()
            async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
                assert (await client.post("/v1/devices", json=inventory)).status_code == 200
                shed = {"kind": "load_shed", "params": {
                    "target_kw": 1, "scope": {"feeders": sorted({d["feeder"] for d in inventory})},
                    "hold_s": 16, "revert_timeout_s": 3}}
                op_id = (await client.post("/v1/operations", json=shed)).json()["id"]

                async def curtailed():
                    got = await outcomes(client, op_id)
                    return any(o["step"] == "curtailed" for o in got.values())
                await wait_until(curtailed, timeout_s=60)
                shed_ids = [d for d, o in (await outcomes(client, op_id)).items() if o["step"] == "curtailed"]
                ray_cluster.remove_node(east)
                lost = True

                async def released():   # no shard can refresh them: their own timers act
                    return all(fleet.device(d).counters.timer_releases >= 1 for d in shed_ids)
                await wait_until(released, timeout_s=30)
                replacement = ray_cluster.add_node(num_cpus=1,
                                                   resources={segment_resource("east"): 1000})
                op = await wait_for_status(client, op_id, timeout_s=90)
        east_shards = [e for e in list_shards(address) if e["name"].endswith("@east") and e.get("calls")]
    finally:
        server.stop()
        for node in ([replacement] if replacement is not None else []) + ([] if lost else [east]):
            ray_cluster.remove_node(node)
    assert op["status"] == "succeeded", op
    assert op["result"]["restored"] == len(shed_ids)
    refreshes = log_events(server.log_path, "refresh_incomplete")
    assert any(e["failed"] for e in refreshes), "no refresh failed while the segment had no node"
    assert east_shards and all(e["node_id"] == replacement.node_id for e in east_shards), east_shards
    for device_id in shed_ids:
        writes = curtail_writes(fleet.write_log(device_id))
        assert writes[0][1] < 100 and writes[-1][1] == 100, writes   # curtailed first, restored last
        assert [s for _, s in writes].count(100) == 1, writes       # restored once: nothing after it


async def test_a_segment_node_lost_mid_rollout(db_url, tmp_path, ray_cluster, stop_shards_after):
    """A segment's node removed mid-transfer, then a replacement added: the shards come
    back on it and the transfers go on from their durable offsets. No device's transfer
    starts from zero again; only a chunk in flight when it was cut off is sent twice."""
    address = stop_shards_after
    west = ray_cluster.add_node(num_cpus=1, resources={segment_resource("west"): 1000})
    fleet = rtu_fleet(4)
    # the pool waits this long for a restarting shard: longer than the gap without a node
    server = ServerProcess(db_url, tmp_path / "server.log", extra_args=["--ray-address", address],
                           GRIDJOBS_SHARD_WAIT_S="60")
    replacement, lost = None, False
    try:
        async with serving(fleet):
            inventory = [{**d, "segment": "west"} for d in fleet.inventory()]
            await server.start()
            async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
                assert (await client.post("/v1/devices", json=inventory)).status_code == 200
                fw = (await client.post("/v1/firmware", params={"version": "4.2.1", "profile": "rtu"},
                                        content=IMAGE,
                                        headers={"content-type": "application/octet-stream"})).json()["id"]
                rollout = {"kind": "firmware_rollout", "params": {
                    "firmware_id": fw, "scope": {"feeders": ["F1"]}, "waves": ["100%"],
                    "max_parallel": 4, "device_timeout_s": 120}}
                r = await client.post("/v1/operations", json=rollout)
                assert r.status_code == 202, r.text
                op_id = r.json()["id"]

                async def transferring():
                    return all(0 < d.counters.fw_bytes_received < len(IMAGE) // 2 for d in fleet.devices)
                await wait_until(transferring, timeout_s=60, interval_s=0.02)
                ray_cluster.remove_node(west)
                lost = True
                at_loss = {d.spec.id: d.counters.fw_bytes_received for d in fleet.devices}
                replacement = ray_cluster.add_node(num_cpus=1,
                                                   resources={segment_resource("west"): 1000})
                op = await wait_for_status(client, op_id, timeout_s=180)
                recorded = await outcomes(client, op_id)
        west_shards = [e for e in list_shards(address) if e["name"].endswith("@west") and e.get("calls")]
    finally:
        server.stop()
        for node in ([replacement] if replacement is not None else []) + ([] if lost else [west]):
            ray_cluster.remove_node(node)
    assert op["status"] == "succeeded", (op.get("error"), [(o["code"], o["detail"]) for o in recorded.values()])
    assert west_shards and all(e["node_id"] == replacement.node_id for e in west_shards), west_shards
    for device in fleet.devices:
        device_id = device.spec.id
        assert device.firmware_version == "4.2.1", device_id
        assert at_loss[device_id] < len(IMAGE), device_id   # the loss came mid-transfer
        offsets = [int(r.values["fw_chunk_offset"]) for r in fleet.write_log(device_id)
                   if CHUNK_ROLES <= set(r.roles)]
        # never from zero again, never backwards: a chunk in flight at the loss may go twice
        assert all(b >= a for a, b in zip(offsets, offsets[1:])), (device_id, offsets)
        resent = len(offsets) - len(set(offsets))
        assert resent <= 2, (device_id, f"{resent} chunks sent twice")  # the loss; a timeout under load
        assert device.counters.fw_bytes_received <= len(IMAGE) + resent * CHUNK_BYTES, device_id
