"""ShardPool routing: per-segment shard sets, and a default placement that segments never move.

Fake handles stand in for Ray actor handles (`.remote()` returning an awaitable):
what is tested is which handle each device's task is sent to.
"""

from __future__ import annotations

import asyncio

from actors.placement import shard_for
from actors.pool import ShardPool, segment_resource, shard_name, valid_segment
from actors.tasks import DeviceRef, DeviceTask
from tests.support import FakeShard

SHARDS = 3


def pool(*, shared: bool) -> tuple[ShardPool, dict]:
    made: dict[str | None, list[FakeShard]] = {}

    def factory(segment):
        made[segment] = [FakeShard(segment, i) for i in range(SHARDS)]
        return made[segment]
    handles = factory(None)
    return ShardPool(handles, factory=factory if shared else None, wait_s=1), made


def task(device_id: str, segment: str | None = None) -> DeviceTask:
    return DeviceTask(DeviceRef(device_id, "127.0.0.1", 502, 1, "rtu", segment))


def where(made) -> dict[str, tuple[str | None, int]]:
    return {d: (s, shard.index) for s, shards in made.items() for shard in shards for d in shard.seen}


async def test_segment_devices_go_to_their_segments_set_and_the_rest_stay_where_they_were():
    ids = [f"dev-{i:03d}" for i in range(40)]
    before_pool, before = pool(shared=True)
    await before_pool.execute("op", "survey", [task(d) for d in ids])
    after_pool, after = pool(shared=True)
    tasks = [task(d, "substation-7" if i % 4 == 0 else None) for i, d in enumerate(ids)]
    results = await after_pool.execute("op", "survey", tasks)
    assert sorted(r.device_id for r in results) == ids
    placed = where(after)
    for i, d in enumerate(ids):
        segment = "substation-7" if i % 4 == 0 else None
        assert placed[d] == (segment, shard_for(d, SHARDS))
        if segment is None:   # a segment added beside it did not move this device
            assert placed[d] == where(before)[d]
    assert set(after) == {None, "substation-7"}


async def test_owned_shards_ignore_segments():
    owned, made = pool(shared=False)
    await owned.execute("op", "survey", [task("a", "north"), task("b")])
    assert set(made) == {None} and set(where(made)) == {"a", "b"}


def test_names_and_resources():
    assert shard_name(2) == "shard-2" and shard_name(2, "north") == "shard-2@north"
    assert segment_resource("substation-7") == "segment:substation-7"
    assert valid_segment("substation-7") and not valid_segment("") and not valid_segment("a b")
