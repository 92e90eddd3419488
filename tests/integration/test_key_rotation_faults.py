"""Faults at every step of a rotation: the device always accepts a key the store
holds and can decrypt, watched continuously while the rotation runs."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gridjobs.device_keys import ensure_master_key
from gridjobs.device_keys.provisioning import provision, read_keys_file
from gridjobs.device_keys.store import keys_for
from simulators import Fault, Fleet
from tests.conftest import TEMPLATE, _with_db
from tests.support import running_service, serving, wait_for_status

STEPS = {"stage": 1, "verify": 2, "activate": 3, "confirm": 4, "retire": 5}
USABLE = ("pending", "active", "previous")


async def _fresh_db(admin_url: str) -> str:
    name = f"gridjobs_k_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return _with_db(admin_url, name)


async def _drop_db(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)')
    finally:
        await admin.close()


async def _violations(runtime, fleet) -> list[str]:
    """Devices that accept no key the store holds (and can decrypt) right now."""
    held = await keys_for(runtime.pool, runtime.keyring.master, [d.spec.id for d in fleet.devices],
                          states=USABLE)
    return [d.spec.id for d in fleet.devices
            if not any(d.accepts(k.secret) for k in held[d.spec.id])]


async def rotate_with_faults(db_url: str, workdir, drops: list[int | None]) -> None:
    key_file = workdir / "master.key"
    ensure_master_key(key_file)
    fleet = Fleet.from_spec_document({
        "fleet": {"seed": 33, "gateways": 1, "feeders": ["F1"]},
        "group": [{"name": "sec", "profile": "secure_load", "count": len(drops)}],
    }, host="127.0.0.1", port=0)
    for device, op in zip(sorted(fleet.devices, key=lambda d: d.spec.id), drops):
        if op is not None:
            fleet.inject(device.spec.id, Fault.drop_after_auth_command(op=op))
    async with serving(fleet), running_service(db_url, master_key_file=key_file) as (runtime, client):
        await client.post("/v1/devices", json=fleet.inventory())
        fleet.write_keys(workdir / "keys.json")
        await provision(runtime.pool, runtime.keyring.master, read_keys_file(workdir / "keys.json"))
        body = {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1"]}}}
        op_id = (await client.post("/v1/operations", json=body)).json()["id"]
        seen: list[list[str]] = []
        finished = asyncio.create_task(wait_for_status(client, op_id, timeout_s=90))
        while not finished.done():  # bounded by the wait above
            seen.append(await _violations(runtime, fleet))
            await asyncio.sleep(0.005)
        op = await finished
        seen.append(await _violations(runtime, fleet))
        assert not any(seen), [v for v in seen if v][:3]
        assert op["status"] == "succeeded", op
        held = await keys_for(runtime.pool, runtime.keyring.master,
                              [d.spec.id for d in fleet.devices], states=("active",))
        for device in fleet.devices:
            [active] = held[device.spec.id]
            assert active.version == 2 and device.accepts(active.secret)
        dropped = [d for d in fleet.devices if d.fault is not None]
        assert all(d.counters.faults_injected == 1 for d in dropped)


@pytest.mark.parametrize("step", list(STEPS))
async def test_connection_dropped_at_each_step(step, admin_url, template_url, ray_local, tmp_path):
    db_url = await _fresh_db(admin_url)
    try:
        await rotate_with_faults(db_url, tmp_path, [STEPS[step], None, STEPS[step]])
    finally:
        await _drop_db(admin_url, db_url)


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drops=st.lists(st.sampled_from([None, 1, 2, 3, 4, 5]), min_size=4, max_size=4))
def test_random_fault_sequences_keep_the_invariant(drops, admin_url, template_url, ray_local,
                                                   tmp_path_factory):
    async def example():
        db_url = await _fresh_db(admin_url)
        try:
            await rotate_with_faults(db_url, tmp_path_factory.mktemp("rot"), drops)
        finally:
            await _drop_db(admin_url, db_url)
    asyncio.run(example())
