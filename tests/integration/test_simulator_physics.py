"""Physics that matter to operations, driven through the adapter over real Modbus/TCP."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters import DeviceClient, SessionPool, load_profile
from simulators import Fleet, LoadPhysics

PROFILE = load_profile("controllable_load")
PHYSICS = LoadPhysics(noise_fraction=0.0, ramp_s=0.3, surge_factor=1.0, surge_decay_s=1.0)
STAGE_DELAY_S = 1.5
STAGES = 3


@pytest.fixture
async def fleet():
    fleet = Fleet.build(devices=24, gateways=2, seed=11, feeders=2, physics=PHYSICS, sample_interval_s=0.02)
    await fleet.start()
    yield fleet
    await fleet.stop()


def clients(fleet: Fleet, sessions: SessionPool, feeder: str) -> list[DeviceClient]:
    return [
        DeviceClient(session=sessions.session(host=r["host"], port=r["port"]), unit_id=r["unit_id"], profile=PROFILE)
        for r in fleet.inventory() if r["feeder"] == feeder
    ]


async def set_all(group: list[DeviceClient], setpoint: int) -> None:
    await asyncio.gather(*(c.write({"curtail_setpoint_pct": setpoint, "revert_timeout_s": 0}) for c in group))


async def staged_restore(group: list[DeviceClient]) -> None:
    size = len(group) // STAGES
    for stage in range(STAGES):
        if stage:
            await asyncio.sleep(STAGE_DELAY_S)
        await set_all(group[stage * size : (stage + 1) * size], 100)


async def test_staged_restore_gives_a_lower_feeder_peak_than_all_at_once(fleet, sessions):
    at_once, staged = clients(fleet, sessions, "F1"), clients(fleet, sessions, "F2")
    full = {feeder: fleet.feeder_kw(feeder) for feeder in ("F1", "F2")}
    await set_all(at_once + staged, 0)
    await asyncio.sleep(PHYSICS.ramp_s + 0.1)
    assert fleet.feeder_kw("F1") == fleet.feeder_kw("F2") == 0
    since = time.monotonic()
    await asyncio.gather(set_all(at_once, 100), staged_restore(staged))
    await asyncio.sleep(1.0)
    peak_at_once = fleet.feeder_peak_kw("F1", since=since) / full["F1"]
    peak_staged = fleet.feeder_peak_kw("F2", since=since) / full["F2"]
    assert peak_at_once > 1.5, "cold-load pickup: all loads surge together"
    assert peak_staged < 1.4 and peak_staged < peak_at_once - 0.3
    assert fleet.feeder_peak_kw("F1", since=time.monotonic()) < peak_at_once * full["F1"]


async def test_measured_power_ramps_to_the_setpoint(fleet, sessions):
    client, device = clients(fleet, sessions, "F1")[0], fleet.devices[0]
    full = device.rated_kw * device.load_factor
    await client.write({"curtail_setpoint_pct": 0, "revert_timeout_s": 0})
    assert 0 < await client.read("measured_kw") < full, "still ramping down right after the write"
    await asyncio.sleep(PHYSICS.ramp_s)
    assert await client.read("measured_kw") == 0
    assert await client.read("curtail_setpoint_pct") == 0, "the setpoint itself changes at once"


def test_default_physics_is_immediate_and_surge_free():
    fleet = Fleet.build(devices=4, gateways=1, feeders=1, sample_interval_s=None)
    device = fleet.devices[0]
    device.write({"curtail_setpoint_pct": 0})
    assert device.measured_kw() == 0
    device.write({"curtail_setpoint_pct": 100})
    assert device.measured_kw() == pytest.approx(device.rated_kw * device.load_factor, rel=0.011)
    with pytest.raises(Exception, match="sampling is off"):
        fleet.feeder_peak_kw("F1", since=0.0)
