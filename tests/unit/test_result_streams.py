"""Results streamed back as devices finish: a shard's chunks, the merge of several
shards' streams, and a pool whose shard fails mid-call (every task still gets
exactly one result, and a restarted shard is sent only what it had not answered)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from ray.exceptions import RayActorError

from actors import shard as shard_module
from actors.pool import ShardPool
from actors.shard import DeviceShardImpl, ShardConfig
from actors.step_names import Step
from actors.steps import StepSpec
from actors.streams import merged
from actors.tasks import DeviceRef, DeviceResult, DeviceTask, pack_results, unpack_tasks
from adapters import FaultCode
from tests.support import FakeShard, FakeStreamMethod


def task(device_id: str, **args) -> DeviceTask:
    return DeviceTask(DeviceRef(device_id, "127.0.0.1", 1, 1, "controllable_load"), args)


async def items(stream, log: list, delays: list[float], *, fail: Exception | None = None):
    try:
        for i, delay in enumerate(delays):
            await asyncio.sleep(delay)
            yield (stream, i)
        if fail is not None:
            raise fail
    finally:
        log.append(stream)   # closed, whichever way


async def test_merged_hands_items_on_as_they_come_from_every_stream():
    closed: list[str] = []
    got = [x async for x in merged([items("a", closed, [0.0, 0.2]), items("b", closed, [0.05, 0.0, 0.0])])]
    assert Counter(s for s, _ in got) == {"a": 2, "b": 3}
    assert got.index(("b", 0)) < got.index(("a", 1))   # b's first did not wait for a's second
    assert sorted(closed) == ["a", "b"]


async def test_merged_ends_with_a_streams_error_and_closes_the_others():
    closed: list[str] = []
    boom = ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        async for _ in merged([items("ok", closed, [0.0, 5.0, 5.0]), items("bad", closed, [0.0], fail=boom)]):
            pass
    assert sorted(closed) == ["bad", "ok"]   # the slow one was not left running


async def test_merged_closed_early_closes_its_streams():
    closed: list[str] = []
    stream = merged([items("a", closed, [0.0, 5.0]), items("b", closed, [0.0, 5.0])])
    await anext(stream)
    await stream.aclose()
    assert sorted(closed) == ["a", "b"]


class DyingShard(FakeShard):
    """Answers for its first `answers` devices, then dies (once, or every time)."""

    def __init__(self, segment, index, *, answers: int, dies_once: bool) -> None:
        super().__init__(segment, index)
        self.answers, self.dies_once, self.died = answers, dies_once, 0
        self.calls: list[list[str]] = []
        self.execute_packed_stream = FakeStreamMethod(self._dying_stream)

    async def _dying_stream(self, operation_id, step, packed, timed=True):
        tasks = unpack_tasks(packed)
        self.calls.append([t.device_id for t in tasks])
        if self.died and self.dies_once:
            yield pack_results([DeviceResult(t.device_id, ok=True) for t in tasks])
            return
        yield pack_results([DeviceResult(t.device_id, ok=True) for t in tasks[:self.answers]])
        self.died += 1
        raise RayActorError()


@pytest.mark.parametrize("shared", [False, True])
async def test_a_shard_dying_mid_call_keeps_what_it_reported_and_faults_or_resends_the_rest(shared):
    dying = DyingShard(None, 0, answers=2, dies_once=True)
    pool = ShardPool([dying], factory=(lambda segment: [dying]) if shared else None, wait_s=1)
    ids = [f"dev-{i}" for i in range(5)]
    results = await pool.execute("op", "survey", [task(d) for d in ids])
    assert sorted(r.device_id for r in results) == ids   # one result per task
    reported = set(dying.calls[0][:2])
    assert all(r.ok for r in results if r.device_id in reported)
    rest = [r for r in results if r.device_id not in reported]
    if shared:   # restarted, it is sent only the devices it had not answered for
        assert dying.calls[1] == [d for d in ids if d not in reported]
        assert all(r.ok for r in rest)
    else:        # owned: no second attempt
        assert len(dying.calls) == 1
        assert {r.code for r in rest} == {FaultCode.SHARD_UNAVAILABLE}


def _waiting_step(gates: dict[str, asyncio.Event], started: list[str], cancelled: list[str]) -> StepSpec:
    async def program(call):
        device = call.task.device_id
        started.append(device)
        try:
            await gates[device].wait()
        except asyncio.CancelledError:
            cancelled.append(device)
            raise
        return DeviceResult(device, ok=True, values={"n": call.task.args["n"]})
    return StepSpec(program, None)


async def test_a_shard_streams_chunks_as_devices_finish_and_execute_keeps_the_task_order(monkeypatch):
    ids = [f"dev-{i}" for i in range(6)]
    gates = {d: asyncio.Event() for d in ids}
    started: list[str] = []
    monkeypatch.setitem(shard_module.STEPS, Step.SURVEY, _waiting_step(gates, started, []))
    monkeypatch.setattr(shard_module, "STREAM_CHUNK", 2)
    shard = DeviceShardImpl(0, ShardConfig())
    stream = shard.execute_stream("op", "survey", [task(d, n=i) for i, d in enumerate(ids)])
    first = asyncio.ensure_future(anext(stream))
    for d in ("dev-4", "dev-1"):   # two finish: a full chunk
        gates[d].set()
    assert sorted(r.device_id for r in await first) == ["dev-1", "dev-4"]
    for d in ids:
        gates[d].set()
    rest = [r.device_id async for chunk in stream for r in chunk]
    assert sorted(rest) == ["dev-0", "dev-2", "dev-3", "dev-5"]
    # execute: the same step, the results in the order of the tasks
    results = await shard.execute("op", "survey", [task(d, n=i) for i, d in enumerate(reversed(ids))])
    assert [r.device_id for r in results] == list(reversed(ids))
    assert [r.values["n"] for r in results] == list(range(6))


async def test_closing_a_shards_stream_early_cancels_the_devices_still_running(monkeypatch):
    ids = [f"dev-{i}" for i in range(4)]
    gates = {d: asyncio.Event() for d in ids}
    started: list[str] = []
    cancelled: list[str] = []
    monkeypatch.setitem(shard_module.STEPS, Step.SURVEY, _waiting_step(gates, started, cancelled))
    monkeypatch.setattr(shard_module, "STREAM_CHUNK", 1)
    shard = DeviceShardImpl(0, ShardConfig())
    stream = shard.execute_stream("op", "survey", [task(d, n=i) for i, d in enumerate(ids)])
    first = asyncio.ensure_future(anext(stream))
    gates["dev-0"].set()
    assert [r.device_id for r in await first] == ["dev-0"]
    await stream.aclose()
    assert sorted(cancelled) == ["dev-1", "dev-2", "dev-3"]


@pytest.mark.parametrize("timed, first_chunk", [(True, ["dev-0"]), (False, ["dev-0", "dev-1", "dev-2"])])
async def test_a_shard_sends_a_chunk_by_time_only_when_timed(monkeypatch, timed, first_chunk):
    """Not `timed` (a plain `execute`, the pool's survey): chunks by count only. The two
    timers below run on one loop in deadline order: nothing depends on the wall clock."""
    ids = [f"dev-{i}" for i in range(3)]
    gates = {d: asyncio.Event() for d in ids}
    monkeypatch.setitem(shard_module.STEPS, Step.SURVEY, _waiting_step(gates, [], []))
    monkeypatch.setattr(shard_module, "STREAM_EVERY_S", 0.01)
    shard = DeviceShardImpl(0, ShardConfig())
    stream = shard.execute_stream("op", "survey", [task(d, n=i) for i, d in enumerate(ids)], timed)
    first = asyncio.ensure_future(anext(stream))
    gates["dev-0"].set()
    await asyncio.sleep(0.05)   # five times STREAM_EVERY_S: a timed chunk would be out by now
    for d in ids:
        gates[d].set()
    assert sorted(r.device_id for r in await first) == first_chunk
    rest = [r.device_id async for chunk in stream for r in chunk]
    assert sorted(first_chunk + rest) == ids
