"""Large writes in parts (gridjobs.store.parts): every row lands once, in near-equal
parts written at once, and a part's error is raised after the others have run."""

from __future__ import annotations

import asyncio

import pytest

from actors.tasks import DeviceState
from gridjobs.store import shard_services
from gridjobs.store.parts import write_in_parts
from gridjobs.store.shard_services import PgDeviceState


async def test_rows_are_split_into_near_equal_parts_written_at_once():
    parts: list[tuple[int, list[int]]] = []
    both_started = asyncio.Event()

    async def write(part, index):
        parts.append((index, list(part)))
        if len(parts) == 2:
            both_started.set()
        async with asyncio.timeout(5):
            await both_started.wait()   # the first part waits for the second: they run at once

    await write_in_parts(list(range(9)), write, split_above=4, parts=2)
    assert sorted(parts) == [(0, [0, 1, 2, 3, 4]), (1, [5, 6, 7, 8])]

    parts.clear()
    await write_in_parts(list(range(4)), write, split_above=4, parts=2)   # at most split_above: one part
    assert parts == [(0, [0, 1, 2, 3])]
    await write_in_parts([], write, split_above=4, parts=2)
    assert parts == [(0, [0, 1, 2, 3])]


async def test_every_part_runs_to_its_end_before_an_error_is_raised():
    finished = []

    async def write(part, index):
        if index == 0:
            raise RuntimeError("part 0 failed")
        await asyncio.sleep(0.01)
        finished.append(index)

    with pytest.raises(RuntimeError, match="part 0 failed"):
        await write_in_parts(list(range(10)), write, split_above=2, parts=3)
    assert sorted(finished) == [1, 2]


async def test_device_state_of_many_devices_is_saved_in_parts_and_loads_back(db_url, monkeypatch):
    monkeypatch.setattr(shard_services, "SAVE_SPLIT_AT", 10)
    store = PgDeviceState(db_url)
    try:
        states = {f"d{i:03}": DeviceState(None if i % 2 else "8a1c2f0e-0000-4000-8000-000000000001",
                                          None if i % 2 else 1.9e9 + i, i % 101, i / 4) for i in range(45)}
        await store.save(states.items())
        assert await store.load(sorted(states)) == states
    finally:
        await store.close()
