"""The curtail, refresh and restore step programs arm the revert timer before the setpoint acts.

Real shard (``DeviceShardImpl`` without Ray), real Modbus/TCP, simulated devices
whose setpoint, timer and enable registers sit apart; the order of the writes
comes from each device's write log.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from actors.shard import DeviceShardImpl, ShardConfig
from actors.tasks import DeviceRef, DeviceTask
from adapters import Arming, FaultCode, load_profile
from simulators import Fault, Fleet

SETPOINT, TIMER, ENABLE = "curtail_setpoint_pct", "revert_timeout_s", "curtail_enable"
MEASURED = {"name": "measured_kw", "address": 5, "type": "int32", "scale": 0.001, "unit": "kW", "writable": False}
PROFILES = {
    # The timer above the setpoint, nothing between them: two writes, the timer's first.
    "split_load": [
        {"name": SETPOINT, "address": 0, "type": "uint16", "unit": "%", "writable": True, "maximum": 100},
        MEASURED,
        {"name": TIMER, "address": 10, "type": "uint16", "unit": "s", "writable": True},
    ],
    # An enable gate between setpoint and timer.
    "gated_load": [
        {"name": SETPOINT, "address": 0, "type": "uint16", "unit": "%", "writable": True, "maximum": 100},
        {"name": ENABLE, "address": 1, "type": "uint16", "writable": True, "maximum": 1},
        {"name": TIMER, "address": 2, "type": "uint16", "unit": "s", "writable": True},
        MEASURED,
    ],
}
ARMING = {"split_load": Arming.TIMER_FIRST, "gated_load": Arming.GATED, "controllable_load": Arming.ATOMIC,
          "sunspec_der": Arming.GATED}
# The write requests each step sends, in order: the roles of each.
CURTAIL_WRITES = {
    "split_load": [(TIMER,), (SETPOINT,)],
    "gated_load": [(TIMER,), (SETPOINT,), (ENABLE,)],
    "controllable_load": [(SETPOINT, TIMER)],  # one FC16 arms both
    "sunspec_der": [(TIMER,), (SETPOINT,), (ENABLE,)],
}
RESTORE_WRITES = {
    "split_load": [(SETPOINT,), (TIMER,)],
    "gated_load": [(ENABLE,), (SETPOINT,), (TIMER,)],
    "controllable_load": [(SETPOINT, TIMER)],
    "sunspec_der": [(ENABLE,), (SETPOINT,), (TIMER,)],
}


@pytest.fixture
def profiles_dir(tmp_path):
    for name, points in PROFILES.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "read_gap": 8, "points": points}))
    return tmp_path


@pytest.fixture
async def fleet(profiles_dir):
    groups = [{"name": name.replace("_", "-"), "profile": name, "count": 1} for name in ARMING]
    fleet = Fleet.from_spec_document({"fleet": {"sample_interval_s": 0, "feeders": 1,
                                                "profile_dirs": [str(profiles_dir)]}, "group": groups}, port=0)
    await fleet.start()
    yield fleet
    await fleet.stop()


@pytest.fixture
async def shard(profiles_dir):
    shard = DeviceShardImpl(0, ShardConfig(profile_dirs=(str(profiles_dir),)))
    yield shard
    await shard.close()


def task(fleet: Fleet, profile: str, **args) -> DeviceTask:
    record = next(r for r in fleet.inventory() if r["profile"] == profile)
    ref = DeviceRef(record["id"], record["host"], record["port"], record["unit_id"], profile)
    return DeviceTask(ref, args)


def writes_since(fleet: Fleet, device_id: str, start: int) -> list[tuple[str, ...]]:
    return [record.roles for record in fleet.write_log(device_id)[start:]]


def test_the_profiles_get_the_arming_their_layout_allows(profiles_dir):
    for name, arming in ARMING.items():
        assert load_profile(name, search_dirs=[profiles_dir]).arming is arming


@pytest.mark.parametrize("profile", sorted(ARMING))
async def test_curtail_arms_the_timer_first_and_restore_disarms_it_last(fleet, shard, profile):
    curtail = task(fleet, profile, setpoint_pct=20, revert_timeout_s=60)
    device = fleet.device(curtail.device_id)
    [result] = await shard.execute("op-1", "curtail", [curtail])
    assert result.ok, result
    assert writes_since(fleet, device.id, 0) == CURTAIL_WRITES[profile]
    assert device.setpoint_pct == 20
    mark = len(fleet.write_log(device.id))
    [result] = await shard.execute("op-1", "restore", [task(fleet, profile)])
    assert result.ok, result
    assert writes_since(fleet, device.id, mark) == RESTORE_WRITES[profile]
    assert device.setpoint_pct == 100
    values = {role: value for record in fleet.write_log(device.id)[mark:] for role, value in record.values.items()}
    assert values[SETPOINT] == 100 and values[TIMER] == 0 and values.get(ENABLE, 0) == 0


async def test_refresh_rearms_and_reapplies_in_arming_order_after_the_gate_closed(fleet, shard):
    curtail = task(fleet, "gated_load", setpoint_pct=30, revert_timeout_s=1)
    device = fleet.device(curtail.device_id)
    [result] = await shard.execute("op-2", "curtail", [curtail])
    assert result.ok and device.setpoint_pct == 30
    await asyncio.sleep(1.2)  # the timer runs out: the device closes its gate by itself
    assert device.setpoint_pct == 100 and device.value(ENABLE) == 0
    mark = len(fleet.write_log(device.id))
    [result] = await shard.execute("op-2", "refresh", [task(fleet, "gated_load", setpoint_pct=30,
                                                            revert_timeout_s=60)])
    assert result.ok and result.values["reapplied"] is True
    assert writes_since(fleet, device.id, mark) == [(TIMER,), (TIMER,), (SETPOINT,), (ENABLE,)]
    assert device.setpoint_pct == 30


async def test_a_curtailment_that_does_not_take_is_released_setpoint_before_timer(fleet, shard):
    curtail = task(fleet, "split_load", setpoint_pct=0, revert_timeout_s=60, expect_max_kw=0.001, settle_s=0.3)
    fleet.inject(curtail.device_id, Fault.implausible())  # measured power ignores the setpoint
    [result] = await shard.execute("op-3", "curtail", [curtail])
    assert result.code is FaultCode.VERIFY_MISMATCH
    log = fleet.write_log(curtail.device_id)
    assert [(r.roles, dict(r.values)) for r in log] == [
        ((TIMER,), {TIMER: 60}), ((SETPOINT,), {SETPOINT: 0}),
        ((SETPOINT,), {SETPOINT: 100}), ((TIMER,), {TIMER: 0}),
    ]
