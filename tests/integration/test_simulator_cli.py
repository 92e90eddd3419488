"""``python -m simulators`` as a subprocess: it announces its ports, serves, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from adapters import DeviceClient, DeviceFault, SessionPool, load_profile

STARTUP_LIMIT_S = 30
pytestmark = pytest.mark.slow


async def test_cli_serves_the_inventory_and_stops_cleanly(tmp_path):
    inventory_path = tmp_path / "inventory.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators", "--devices", "6", "--gateways", "2", "--host", "127.0.0.1",
        "--port", "0", "--inventory", str(inventory_path), "--seed", "4", "--feeders", "2",
        "--fault", "load-0002=exception",
        stdout=asyncio.subprocess.PIPE,
    )
    sessions = SessionPool(timeout_s=1.0)
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), STARTUP_LIMIT_S)).decode()
        assert line.startswith("listening ports=") and f"devices=6 inventory={inventory_path}" in line
        inventory = json.loads(inventory_path.read_text())
        values = [await read_measured(sessions, record) for record in inventory]
    finally:
        await sessions.close()
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), STARTUP_LIMIT_S)
    assert exit_code == 0
    assert [value == "modbus_exception" for value in values] == [r["id"] == "load-0002" for r in inventory]


async def read_measured(sessions: SessionPool, record: dict) -> float | str:
    session = sessions.session(host=record["host"], port=record["port"])
    client = DeviceClient(session=session, unit_id=record["unit_id"], profile=load_profile(record["profile"]))
    try:
        return await client.read("measured_kw")
    except DeviceFault as fault:
        return fault.code


def test_cli_rejects_a_malformed_fault(capsys):
    from simulators.cli import main

    with pytest.raises(SystemExit) as info:
        main(["--devices", "1", "--gateways", "1", "--port", "0", "--inventory", "x", "--fault", "load-0001=melt"])
    assert info.value.code == 2 and "DEVICE_ID=KIND" in capsys.readouterr().err
