"""A Ray cluster of our own for the tests of this package (`ray.cluster_utils.Cluster`).

The pytest process never connects to it (it may hold the session's local Ray):
gridjobs processes do, as `serve --ray-address`, and so do `gridjobs shards`
subprocesses, through which the tests look at the shards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SHARDS_TIMEOUT_S = 120.0


@pytest.fixture(scope="package")
def ray_cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        yield cluster
    finally:
        cluster.shutdown()


def shards_cli(address: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-m", "gridjobs", "shards", *args, "--ray-address", address],
                          env=env, capture_output=True, text=True, timeout=SHARDS_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def list_shards(address: str, *, devices: bool = False) -> list[dict]:
    out = shards_cli(address, "list", "--json", *(["--devices"] if devices else [])).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture
def stop_shards_after(ray_cluster):
    """Each test has its own database: the shards (bound to it) end with the test."""
    yield ray_cluster.address
    shards_cli(ray_cluster.address, "stop")
