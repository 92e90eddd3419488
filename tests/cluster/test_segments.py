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

from actors.placement import shard_for
from actors.pool import segment_resource
from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.cluster.conftest import list_shards
from tests.support import serving, wait_for_status

SHARDS = 2
SEGMENTS = ("north", "south")


@pytest.fixture(scope="module")
def segment_nodes(ray_cluster):
    nodes = {s: ray_cluster.add_node(num_cpus=1, resources={segment_resource(s): 1000}) for s in SEGMENTS}
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
