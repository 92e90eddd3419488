"""A gateway session serves a write's read-back (``follow_up``) before the requests of
units still waiting their turn. Real Modbus/TCP on loopback against the simulator."""

from __future__ import annotations

import asyncio

import pytest

from adapters import DeviceClient, load_profile
from tests.support import quiet_loads, serving

PROFILE = load_profile("controllable_load")
UNITS = 8
GUARD_S = 10.0   # bounds each test's waits; nothing is asserted on time


@pytest.fixture
async def gateway():
    async with serving(quiet_loads(UNITS, gateways=1, seed=11)) as fleet:
        yield fleet.inventory()


async def test_a_follow_up_read_goes_before_the_requests_waiting_their_turn(gateway, sessions):
    first = gateway[0]
    session = sessions.session(host=first["host"], port=first["port"])
    finished: list[str] = []

    async def read(name: str, unit_id: int, follow_up: bool) -> None:
        await session.read_registers(unit_id=unit_id, address=0, count=2, follow_up=follow_up)
        finished.append(name)

    # All start in one turn of the loop: the first takes the wire, the rest wait for it.
    in_turn = [asyncio.ensure_future(read(f"unit{d['unit_id']}", d["unit_id"], False)) for d in gateway]
    follow_up = asyncio.ensure_future(read("read-back", first["unit_id"], True))
    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(*in_turn, follow_up)
    assert finished[1] == "read-back", finished   # next after the one on the wire
    assert finished[2:] == [f"unit{d['unit_id']}" for d in gateway[1:]]   # the rest in turn


async def test_each_device_of_a_batch_is_read_back_before_the_last_is_commanded(gateway, sessions):
    """As a shard's curtail runs: every device writes, then reads its write back. Without
    follow-ups every write would go out before the first read-back."""
    log: list[tuple[str, str]] = []

    async def curtail(record: dict) -> None:
        client = DeviceClient(session=sessions.session(host=record["host"], port=record["port"]),
                              unit_id=record["unit_id"], profile=PROFILE)
        await client.write({"curtail_setpoint_pct": 40, "revert_timeout_s": 60})
        log.append(("commanded", record["id"]))
        values = await client.read_many(["curtail_setpoint_pct"], follow_up=True)
        assert values["curtail_setpoint_pct"] == 40
        log.append(("verified", record["id"]))

    async with asyncio.timeout(GUARD_S):
        await asyncio.gather(*(curtail(r) for r in gateway))
    first_verified = log.index(("verified", gateway[0]["id"]))
    last_commanded = log.index(("commanded", gateway[-1]["id"]))
    assert first_verified < last_commanded, log
    assert sorted(d for what, d in log if what == "verified") == sorted(r["id"] for r in gateway)
