"""Fault injection over real Modbus/TCP: every faulty device ends with the outcome code its fault implies."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

import simulators
from adapters import DeviceClient, DeviceFault, SessionPool, load_profile
from simulators import Fault, FaultKind, Fleet

FLEETS = Path(simulators.__file__).parent / "fleets"
CLIENT_TIMEOUT_S = 0.4
EXPECTED_CODE = {
    FaultKind.TIMEOUT: "device_timeout",
    FaultKind.OFFLINE: "device_timeout",
    FaultKind.EXCEPTION: "modbus_exception",
    FaultKind.DROP: "connection_failed",
}


async def read(sessions: SessionPool, record: dict, role: str = "measured_kw") -> float | str:
    session = sessions.session(host=record["host"], port=record["port"])
    client = DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))
    try:
        return await client.read(role)
    except DeviceFault as fault:
        return fault.code


async def test_every_faulty_device_ends_with_the_code_its_fault_implies():
    fleet = Fleet.from_toml(FLEETS / "small.toml")
    fleet.inject("load-0005", Fault.drop())
    fleet.inject("pv-0001", Fault.implausible())
    chosen = fleet.inject_fraction(Fault.timeout(), fraction=0.25, seed=9)
    sessions = SessionPool(timeout_s=CLIENT_TIMEOUT_S)
    await fleet.start()
    try:
        inventory = fleet.inventory()
        outcomes = {r["id"]: await read(sessions, r) for r in inventory}
    finally:
        await sessions.close()
        await fleet.stop()
    faulty = fleet.faulty_devices()
    assert faulty["load-0002"] == Fault.exception(code=4) and faulty["pv-0003"].kind is FaultKind.OFFLINE
    assert set(chosen) <= set(faulty) and len(chosen) == 2
    for device_id, outcome in outcomes.items():
        fault = faulty.get(device_id)
        expected = EXPECTED_CODE.get(fault.kind) if fault else None
        assert (outcome if isinstance(outcome, str) else None) == expected, (device_id, fault, outcome)
        counters = fleet.device(device_id).counters
        assert (counters.faults_injected >= 1) if fault else counters.faults_injected == 0


async def test_latency_delays_one_device_without_blocking_its_gateway_neighbours():
    fleet = Fleet.build(devices=4, gateways=1, feeders=1, sample_interval_s=None)
    fleet.inject("load-0001", Fault.latency(min_s=0.3, max_s=0.3))
    slow_sessions, fast_sessions = SessionPool(timeout_s=1.0), SessionPool(timeout_s=1.0)
    await fleet.start()
    try:
        slow, fast = fleet.inventory()[0], fleet.inventory()[1]
        loop = asyncio.get_running_loop()
        started = loop.time()
        slow_read = asyncio.create_task(read(slow_sessions, slow))
        await asyncio.sleep(0.05)
        assert isinstance(await read(fast_sessions, fast), float)
        fast_done = loop.time() - started
        assert isinstance(await slow_read, float)
        slow_done = loop.time() - started
    finally:
        await slow_sessions.close()
        await fast_sessions.close()
        await fleet.stop()
    assert fast_done < 0.3 <= slow_done, "another connection to the same gateway is not held up"


async def test_latency_past_the_client_timeout_is_a_timeout_and_stop_cancels_the_wait():
    fleet = Fleet.build(devices=2, gateways=1, feeders=1, sample_interval_s=None)
    fleet.inject("load-0002", Fault.latency(min_s=5, max_s=5))
    sessions = SessionPool(timeout_s=0.2)
    await fleet.start()
    try:
        assert await read(sessions, fleet.inventory()[1]) == "device_timeout"
    finally:
        await sessions.close()
        await fleet.stop()  # the no_leftovers fixture checks the delayed answer was cancelled


async def test_offline_window_opens_and_closes():
    fleet = Fleet.build(devices=2, gateways=1, feeders=1, sample_interval_s=None)
    fleet.inject("load-0001", Fault.offline(start_s=0.3, duration_s=0.6))
    sessions = SessionPool(timeout_s=0.2, backoff_initial_s=0.01, backoff_max_s=0.02)
    await fleet.start()
    try:
        record = fleet.inventory()[0]
        assert isinstance(await read(sessions, record), float)
        await asyncio.sleep(0.3)
        assert await read(sessions, record) == "device_timeout"
        await asyncio.sleep(0.7)
        assert isinstance(await read(sessions, record), float)
    finally:
        await sessions.close()
        await fleet.stop()


async def test_implausible_power_ignores_the_setpoint():
    fleet = Fleet.build(devices=2, gateways=1, feeders=1, sample_interval_s=None)
    fleet.inject("load-0001", Fault.implausible())
    device = fleet.device("load-0001")
    device.write({"curtail_setpoint_pct": 0})
    assert device.setpoint_pct == 0
    assert device.measured_kw() == pytest.approx(device.rated_kw * device.load_factor, rel=0.011)


async def test_cli_serves_a_fleet_file_and_lists_its_faults(tmp_path):
    inventory_path, faults_path = tmp_path / "inventory.json", tmp_path / "faults.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators", "--fleet", str(FLEETS / "small.toml"), "--port", "0",
        "--inventory", str(inventory_path), "--faults-out", str(faults_path),
        "--fault", "load-0003=latency:min_s=0.01,max_s=0.02", "--fault-fraction", "drop=0.1",
        stdout=asyncio.subprocess.PIPE,
    )
    sessions = SessionPool(timeout_s=1.0)
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("listening ports=") and "devices=12" in line
        inventory = json.loads(inventory_path.read_text())
        faults = json.loads(faults_path.read_text())
        fc = next(r for r in inventory if r["profile"] == "feeder_controller")
        breaker = await read(sessions, fc, role="breaker_closed")
    finally:
        await sessions.close()
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), 30)
    assert exit_code == 0
    assert {r["profile"] for r in inventory} == {"controllable_load", "sunspec_der", "feeder_controller"}
    assert faults["load-0002"] == {"kind": "exception", "code": 4}
    assert faults["load-0003"] == {"kind": "latency", "min_s": 0.01, "max_s": 0.02}
    assert sum(f["kind"] == "drop" for f in faults.values()) == 1
    assert breaker == 1 or faults.get(fc["id"]), breaker
