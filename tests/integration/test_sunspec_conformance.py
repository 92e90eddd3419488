"""The simulated SunSpec inverter against pysunspec2's own client, and against our adapter.

pysunspec2's client is synchronous; it runs in a thread so the simulator's
event loop keeps serving.
"""

from __future__ import annotations

import asyncio

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from adapters import DeviceClient, DeviceFault, FaultCode, SessionPool, load_profile
from simulators import Fleet

PROFILE = load_profile("sunspec_der")
FLEET = {
    "fleet": {"seed": 5, "gateways": 1, "feeders": 1},
    "physics": {"noise_fraction": 0.0},
    "group": [
        {"name": "pv", "profile": "sunspec_der", "count": 3, "rated_kw": [60.0, 60.0], "load_factor": 0.8},
        {"name": "load", "profile": "controllable_load", "count": 1},
    ],
}
POLL_INTERVAL_S = 0.1
POLL_LIMIT = 100


@pytest.fixture
async def fleet():
    fleet = Fleet.from_spec_document(FLEET)
    await fleet.start()
    yield fleet
    await fleet.stop()


def record(fleet: Fleet, device_id: str) -> dict:
    return next(r for r in fleet.inventory() if r["id"] == device_id)


def client(fleet: Fleet, sessions: SessionPool, device_id: str, profile=PROFILE) -> DeviceClient:
    r = record(fleet, device_id)
    return DeviceClient(session=sessions.session(host=r["host"], port=r["port"]), unit_id=r["unit_id"], profile=profile)


def scan(r: dict) -> dict:
    """Scan with pysunspec2 and return what it read, as plain data."""
    device = SunSpecModbusClientDeviceTCP(slave_id=r["unit_id"], ipaddr=r["host"], ipport=r["port"], timeout=2)
    try:
        device.scan()
        common, inverter, nameplate, settings, controls = (device.models[m][0] for m in (1, 103, 120, 121, 123))
        return {
            "models": sorted(m for m in device.models if isinstance(m, int)),
            "errors": [device.models[m][0].error_info for m in (1, 103, 120, 121, 123)],
            "Mn": common.Mn.value, "SN": common.SN.value, "W": inverter.W.cvalue, "Hz": inverter.Hz.cvalue,
            "St": inverter.St.value, "WRtg": nameplate.WRtg.cvalue, "WMax": settings.WMax.cvalue,
            "Conn": controls.Conn.value, "WMaxLimPct": controls.WMaxLimPct.cvalue,
            "Ena": controls.WMaxLim_Ena.value, "RvrtTms": controls.WMaxLimPct_RvrtTms.value,
            "VArPct_Mod": controls.VArPct_Mod.value,
        }
    finally:
        device.disconnect()


async def test_pysunspec2_scan_finds_the_models_with_the_right_values(fleet):
    seen = await asyncio.to_thread(scan, record(fleet, "pv-0001"))
    assert seen["models"] == [1, 103, 120, 121, 123] and seen["errors"] == [""] * 5
    assert (seen["Mn"], seen["SN"]) == ("gridjobs", "SIM-pv-0001")
    assert seen["WRtg"] == seen["WMax"] == 60000
    assert seen["W"] == pytest.approx(60000 * 0.8, abs=10) and seen["Hz"] == 50.0 and seen["St"] == 4
    assert (seen["Conn"], seen["WMaxLimPct"], seen["Ena"]) == (1, 100, 0)
    assert seen["VArPct_Mod"] is None, "unimplemented points read as SunSpec 'not implemented'"


async def test_limit_written_by_our_adapter_is_seen_by_pysunspec2(fleet, sessions):
    pv = client(fleet, sessions, "pv-0002")
    full = await pv.read("measured_kw")
    await pv.write({"curtail_setpoint_pct": 40, "revert_timeout_s": 600, "curtail_enable": 1})
    limited = await asyncio.to_thread(scan, record(fleet, "pv-0002"))
    assert (limited["WMaxLimPct"], limited["Ena"], limited["RvrtTms"]) == (40, 1, 600)
    assert limited["W"] == pytest.approx(60000 * 0.4, abs=10) and limited["St"] == 5  # THROTTLED
    await pv.write({"curtail_enable": 0})
    restored = await asyncio.to_thread(scan, record(fleet, "pv-0002"))
    assert restored["Ena"] == 0 and restored["W"] == pytest.approx(full * 1000, abs=10)
    assert fleet.device("pv-0002").counters.writes == {
        "curtail_setpoint_pct": 1, "revert_timeout_s": 1, "curtail_enable": 2,
    }


async def test_adapter_reads_roles_with_scale_factors_and_discovers_once(fleet, sessions):
    pv, device = client(fleet, sessions, "pv-0003"), fleet.device("pv-0003")
    values = await pv.read_many(["rated_kw", "max_kw", "measured_kw", "connected", "manufacturer"])
    assert values == {"rated_kw": 60.0, "max_kw": 60.0, "measured_kw": pytest.approx(48.0, abs=0.01),
                      "connected": 1, "manufacturer": "gridjobs"}
    after_discovery = device.counters.requests
    again = client(fleet, sessions, "pv-0003")  # a new client on the same session reuses the layout
    await again.read("measured_kw")
    assert device.counters.requests == after_discovery + 1
    assert len(pv.session.layouts) == 1


async def test_revert_timer_disables_the_limit(fleet, sessions):
    pv, device = client(fleet, sessions, "pv-0001"), fleet.device("pv-0001")
    await pv.write({"curtail_setpoint_pct": 20, "revert_timeout_s": 1, "curtail_enable": 1})
    assert await pv.read("measured_kw") == pytest.approx(12.0, abs=0.01)
    for _ in range(POLL_LIMIT):
        if await pv.read("curtail_enable") == 0:
            break
        await asyncio.sleep(POLL_INTERVAL_S)
    assert await pv.read("measured_kw") == pytest.approx(48.0, abs=0.01)
    (limited_at, limited), (reverted_at, reverted) = device.history
    assert (limited, reverted) == (20, 100) and reverted_at - limited_at == pytest.approx(1.0)


async def test_device_refuses_invalid_sunspec_writes(fleet, sessions):
    pv = client(fleet, sessions, "pv-0001")
    layout = await pv.layout()
    enable = layout.point("curtail_enable")
    with pytest.raises(DeviceFault) as info:
        await pv.session.write_registers(unit_id=pv.unit_id, address=enable.address, values=[2])
    assert info.value.code == "modbus_exception" and "ILLEGAL_VALUE" in info.value.detail
    with pytest.raises(DeviceFault) as info:
        await pv.session.write_registers(unit_id=pv.unit_id, address=layout.point("measured_kw").address, values=[1])
    assert "ILLEGAL_ADDRESS" in info.value.detail


async def test_a_device_without_a_sunspec_map_is_a_profile_mismatch(fleet, sessions):
    not_sunspec = client(fleet, sessions, "load-0001")
    with pytest.raises(DeviceFault) as info:
        await not_sunspec.read("measured_kw")
    assert info.value.code == FaultCode.PROFILE_MISMATCH == "profile_mismatch"
    assert "no SunSpec map at 40000" in info.value.detail


async def test_a_device_lacking_a_required_model_is_a_profile_mismatch(fleet, sessions, tmp_path):
    (tmp_path / "storage_der.json").write_text(
        '{"name": "storage_der", "sunspec": {"models": [1, 124]}, "roles": {"charge_pct": "124.ChaGriSet"}}'
    )
    storage = client(fleet, sessions, "pv-0001", profile=load_profile("storage_der", search_dirs=[tmp_path]))
    with pytest.raises(DeviceFault) as info:
        await storage.read("charge_pct")
    assert info.value.code == "profile_mismatch" and "model 124 is missing" in info.value.detail


async def test_units_with_the_same_map_share_one_discovered_layout(fleet, sessions):
    """Discovery runs per unit, but a shard keeps each distinct layout once: its memory
    grows by a reference per unit, not by a copy of the map (issue 13's bytes per device)."""
    ids = [r["id"] for r in fleet.inventory() if r["profile"] == "sunspec_der"]
    layouts = [await client(fleet, sessions, d).layout() for d in ids]
    assert len(layouts) == 3 and layouts[0] is not PROFILE   # discovered: a static map
    assert all(layout is layouts[0] for layout in layouts)
    session = client(fleet, sessions, ids[0]).session
    assert len(session.layouts) == 3   # still discovered, and forgotten, per unit
