"""A device type added as a profile file, with no code; and staged restoration
lowering the feeder's cold-load-pickup peak, as the simulator reports it."""

from __future__ import annotations

import asyncio
import time

from simulators import Fleet
from tests.support import running_service, serving, wait_for_status

USER_PROFILE = """
name = "water_heater"
description = "Utility-controlled water heater: a user profile, its own register layout"
read_gap = 0   # this device refuses reads of unmapped registers

[[points]]
name = "curtail_setpoint_pct"
address = 10
type = "uint16"
unit = "%"
writable = true
minimum = 0
maximum = 100

[[points]]
name = "revert_timeout_s"
address = 11
type = "uint16"
unit = "s"
writable = true

[[points]]
name = "measured_kw"
address = 20
type = "int32"
word_order = "little"
scale = 0.001
unit = "kW"
writable = false

[[points]]
name = "rated_kw"
address = 30
type = "uint32"
scale = 0.001
unit = "kW"
writable = false

[[points]]
name = "tank_temp_c"
address = 40
type = "int16"
scale = 0.1
unit = "C"
writable = false
"""


async def test_user_profile_from_a_directory_drives_a_shed(tmp_path, db_url, ray_local):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "water_heater.toml").write_text(USER_PROFILE)
    fleet = Fleet.from_spec_document({
        "fleet": {"seed": 2, "gateways": 1, "feeders": ["F1"], "profile_dirs": [str(profiles)]},
        "group": [{"name": "wh", "profile": "water_heater", "count": 6, "rated_kw": [4.0, 5.0]}],
    }, host="127.0.0.1", port=0)
    await fleet.start()
    try:
        async with running_service(db_url, execute=False) as (_, client):  # no profiles dir
            r = await client.post("/v1/devices", json=fleet.inventory())
            assert r.status_code == 422 and "unknown device profile 'water_heater'" in r.text
        async with running_service(db_url, profiles_dir=profiles) as (_, client):
            assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
            body = {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": ["F1"]},
                                                    "hold_s": 0}}
            op_id = (await client.post("/v1/operations", json=body)).json()["id"]
            op = await wait_for_status(client, op_id)
        assert op["status"] == "succeeded", op
        assert op["result"]["devices_shed"] >= 2
        assert sum(d.counters.writes.get("curtail_setpoint_pct", 0) for d in fleet.devices) >= 4
    finally:
        await fleet.stop()


SURGE_FLEET = {
    "fleet": {"seed": 9, "gateways": 1, "feeders": ["F1"], "sample_interval_s": 0.02},
    "physics": {"noise_fraction": 0.0},
    "group": [{"name": "load", "profile": "controllable_load", "count": 24, "rated_kw": 10.0,
               "load_factor": 0.8, "shed_priorities": [1],
               "physics": {"surge_factor": 1.0, "surge_decay_s": 0.4}}],
}


async def _restore_peak(client, fleet, *, stages: int, delay_s: float) -> float:
    body = {"kind": "load_shed", "params": {
        "target_kw": 150, "scope": {"feeders": ["F1"]}, "hold_s": 0,
        "restore": {"stages": stages, "stage_delay_s": delay_s}, "revert_timeout_s": 30}}
    since = time.monotonic()
    op_id = (await client.post("/v1/operations", json=body)).json()["id"]
    op = await wait_for_status(client, op_id)
    assert op["status"] == "succeeded", op
    await asyncio.sleep(1.5)  # let the last surge play out inside the window
    return fleet.feeder_peak_kw("F1", since=since)


async def test_staged_restore_gives_a_lower_feeder_peak(db_url, ray_local):
    fleet = Fleet.from_spec_document(SURGE_FLEET, host="127.0.0.1", port=0)
    async with serving(fleet), running_service(db_url) as (_, client):
        await client.post("/v1/devices", json=fleet.inventory())
        baseline = fleet.feeder_kw("F1")
        single = await _restore_peak(client, fleet, stages=1, delay_s=0)
        await asyncio.sleep(1.0)
        staged = await _restore_peak(client, fleet, stages=4, delay_s=1.0)
    assert single > baseline * 1.3  # all at once: the whole surge lands together
    assert staged < single * 0.8, (baseline, single, staged)
