"""SIGTERM to `gridjobs serve` mid-operation: a bounded drain, exit status 0.

The server runs as a subprocess, the simulated fleet in the test process. A
load shed holds until cancelled when the signal arrives: the run is cancelled,
its lease is given back at once (another server takes the operation over long
before the lease would have run out), Ray stops without a crash banner and the
embedded PostgreSQL stops with the process.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from gridjobs.config import DRAIN_S
from gridjobs.store.embedded import EmbeddedPostgres
from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.support import outcomes, serving, wait_for_status, wait_until

LEASE_S = 60        # a takeover well inside this did not wait for the lease to expire
TAKEOVER_S = 15.0   # the lease was renewed at most lease_s / 3 before the signal
SETPOINT = "curtail_setpoint_pct"
# What a crash looks like in the output: absl's failure-signal dump (Ray's core
# worker), Ray's note on its SIGTERM handler, any Python traceback.
CRASH_SIGNS = ("*** SIGTERM received", "logging.cc", "SIGTERM handler", "Traceback")


@pytest.fixture
async def fleet():
    async with serving(Fleet.build(devices=20, gateways=2, host="127.0.0.1", port=0, seed=5,
                                   feeders=2)) as f:
        yield f


async def held_shed(server: ServerProcess, fleet: Fleet) -> tuple[str, set[str]]:
    """Start `server`, shed 40 % of the fleet and hold until cancelled; the operation id
    and the devices recorded as curtailed."""
    await server.start()
    kw = sum(d.measured_kw() for d in fleet.devices if not d.spec.protected)
    params = {"target_kw": round(kw * 0.4, 1), "scope": {"feeders": ["F1", "F2"]},
              "hold_s": None, "revert_timeout_s": 300}
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
        assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
        r = await client.post("/v1/operations", json={"kind": "load_shed", "params": params})
        assert r.status_code == 202, r.text
        op_id = r.json()["id"]

        async def holding():
            op = (await client.get(f"/v1/operations/{op_id}")).json()
            return op["progress"]["total"] > 0 and op["progress"]["pending"] == 0
        await wait_until(holding, timeout_s=90)
        curtailed = {d for d, o in (await outcomes(client, op_id)).items() if o["state"] == "succeeded"}
    assert curtailed
    return op_id, curtailed


def assert_stopped_cleanly(server: ServerProcess, status: int | None, *, released: bool) -> None:
    output = server.log_path.read_text()
    assert status == 0, f"exit status {status} within {DRAIN_S} s:\n{output[-3000:]}"
    assert not [sign for sign in CRASH_SIGNS if sign in output], output[-3000:]
    assert ('"event": "lease_released"' in output) == released, output[-3000:]
    assert server.group_alive() == [], "processes of the server (Ray's?) outlived it"


async def test_sigterm_stops_cleanly_and_stops_the_embedded_database(fleet, tmp_path):
    data_dir = tmp_path / "data"
    server = ServerProcess(None, tmp_path / "server.log", data_dir=data_dir,
                           GRIDJOBS_LEASE_S=str(LEASE_S))
    postmaster = None
    try:
        op_id, _ = await held_shed(server, fleet)
        postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
        assert_stopped_cleanly(server, server.terminate(DRAIN_S), released=True)
        assert not (data_dir / "pg" / "postmaster.pid").exists()
        assert not _running(postmaster), "the embedded PostgreSQL is still running"
    finally:
        server.stop()
        if postmaster is not None and _running(postmaster):   # not ours to leave behind
            os.kill(postmaster, signal.SIGTERM)
    row = await _operation_row(data_dir, op_id)
    # given back before PostgreSQL stopped: the next process resumes it at once
    assert row["status"] == "running" and row["fence"] == 1 and row["lease_owner"] is None, dict(row)
    assert row["released"], dict(row)


async def test_sigterm_hands_the_operation_to_another_server_at_once(db_url, pool, fleet, tmp_path):
    first = ServerProcess(db_url, tmp_path / "first.log", GRIDJOBS_LEASE_S=str(LEASE_S))
    second = ServerProcess(db_url, tmp_path / "second.log", GRIDJOBS_LEASE_S=str(LEASE_S))
    try:
        op_id, curtailed = await held_shed(first, fleet)
        await second.start()
        assert_stopped_cleanly(first, first.terminate(DRAIN_S), released=True)

        async def taken_over():
            row = await pool.fetchrow("SELECT fence, lease_owner FROM operations WHERE id = $1",
                                      UUID(op_id))
            return row["fence"] == 2 and f":{second.proc.pid}:" in (row["lease_owner"] or "")
        await wait_until(taken_over, timeout_s=TAKEOVER_S)

        async with httpx.AsyncClient(base_url=second.url, timeout=10, headers=second.headers) as client:
            assert (await client.post(f"/v1/operations/{op_id}/cancel")).status_code == 202
            op = await wait_for_status(client, op_id, timeout_s=60)
        assert op["status"] == "cancelled", op
        for device_id in curtailed:   # curtailed once, by the first server; restored once
            device = fleet.device(device_id)
            assert device.counters.writes.get(SETPOINT, 0) == 2 and device.setpoint_pct == 100
        assert_stopped_cleanly(second, second.terminate(DRAIN_S), released=False)
    finally:
        first.stop()
        second.stop()


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent (here, whoever adopted it) to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def _operation_row(data_dir: Path, op_id: str):
    embedded = EmbeddedPostgres(data_dir)
    try:
        conn = await asyncpg.connect(embedded.start())
        try:
            return await conn.fetchrow(
                "SELECT status, fence, lease_owner, lease_expires_at <= now() AS released "
                "FROM operations WHERE id = $1", UUID(op_id))
        finally:
            await conn.close()
    finally:
        embedded.stop()
