"""ShardPool: a fixed set of DeviceShard actors and the fan-out over them.

Two ways to get one:
- `ShardPool.create`: actors owned by this process, on the local Ray it started
  (or the one a test started). They die with the process; segments are ignored
  (a local Ray is one node).
- `ShardPool.attach`: named, detached actors in the `gridjobs` namespace of a
  Ray cluster, obtained with `get_if_exists`, so every process attached to the
  cluster drives a device through the same actor (one priority lock per device
  in the whole cluster). A process leaving does not stop them (`close` only
  drops its handles); `stop_shards` does. A device that names a segment is
  driven by that segment's own set of shards, placed on the nodes that have the
  custom resource `segment:<name>` (see `segment_resource`).
"""

from __future__ import annotations

import asyncio
import re
from typing import AsyncIterator, Callable, Sequence

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayError

from adapters import FaultCode
from actors.placement import group_by_shard
from actors.shard import DeviceShard, ShardConfig
from actors.streams import merged
from actors.tasks import DeviceResult, DeviceTask, pack_tasks, unpack_results

MAX_CONCURRENCY = 1000
CALL_TIMEOUT_S = 300.0   # at least this; longer when the tasks carry longer deadlines
CALL_MARGIN_S = 60.0
NAMESPACE = "gridjobs"
SHARD_WAIT_S = 10.0      # how long a call waits for a shard that is (re)starting or unplaced
FIRST_CONTACT_S = 60.0   # the first answer of a shard this process has not heard from yet: a
                         # new actor may need a worker process started on its node first
CALL_ATTEMPTS = 2        # a shard that died during a call gets one more, once it answers again
RESTART_POLL_S = 0.25    # between pings of a shard that Ray is restarting
SEGMENT_AMOUNT = 0.001   # of a segment's resource, per shard: a node with 1000 hosts 10^6 shards
SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def segment_resource(segment: str) -> str:
    """The Ray custom resource a node offers to host `segment`'s shards."""
    return f"segment:{segment}"


def shard_name(index: int, segment: str | None = None) -> str:
    """The actor name of shard `index` of the default set, or of a segment's set."""
    return f"shard-{index}" if segment is None else f"shard-{index}@{segment}"


def valid_segment(segment: str) -> bool:
    return bool(SEGMENT_NAME.match(segment))


class ShardPool:
    def __init__(self, handles: Sequence, *, factory: Callable[[str | None], list] | None = None,
                 wait_s: float = SHARD_WAIT_S) -> None:
        self._sets: dict[str | None, list] = {None: list(handles)}
        self._factory = factory     # None: owned shards, one set, segments ignored
        self._wait_s = wait_s
        self._answered: set[tuple[str | None, int]] = set()   # shards heard from at least once

    @classmethod
    def create(cls, shards: int, config: ShardConfig) -> "ShardPool":
        """Create `shards` restartable actors owned by this process."""
        handles = [
            DeviceShard.options(
                max_restarts=-1,
                max_task_retries=3,
                max_concurrency=MAX_CONCURRENCY,
                num_cpus=0,
            ).remote(i, config)
            for i in range(shards)
        ]
        return cls(handles)

    @classmethod
    def attach(cls, shards: int, config: ShardConfig, *, wait_s: float = SHARD_WAIT_S) -> "ShardPool":
        """The cluster's named shards (created by whichever process comes first).

        The first creator's `config` is the one they run with. Ray restarts a shard
        whose node died (`max_restarts=-1`) on a node with the same resources; the
        pool, not Ray, retries a call the restart interrupted (`max_task_retries=0`),
        so that a wait for a shard with no node to run on stays bounded.
        """
        def make(segment: str | None) -> list:
            resources = {segment_resource(segment): SEGMENT_AMOUNT} if segment is not None else None
            return [
                DeviceShard.options(
                    name=shard_name(i, segment), namespace=NAMESPACE, lifetime="detached",
                    get_if_exists=True, max_restarts=-1, max_task_retries=0,
                    max_concurrency=MAX_CONCURRENCY, num_cpus=0, resources=resources,
                ).remote(i, config)
                for i in range(shards)
            ]
        return cls(make(None), factory=make, wait_s=wait_s)

    @property
    def size(self) -> int:
        return len(self._sets[None])

    @property
    def shared(self) -> bool:
        """Named cluster shards, which outlive this process."""
        return self._factory is not None

    def handle(self, index: int, segment: str | None = None):
        return self._handles(segment)[index]

    def _handles(self, segment: str | None) -> list:
        if segment is not None and self._factory is None:
            segment = None
        if segment not in self._sets:
            self._sets[segment] = self._factory(segment)
        return self._sets[segment]

    def segments(self) -> list[str | None]:
        return list(self._sets)

    async def ping(self, timeout_s: float) -> bool:
        refs = [h.ping.remote() for h in self._sets[None]]
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*refs)
        return True

    def actor_ids(self, segment: str | None = None) -> list[str]:
        return [h._actor_id.hex() for h in self._handles(segment)]

    async def stats(self, timeout_s: float) -> list[dict | None]:
        """Every default shard's `stats()`, in shard order; None for one that did not answer in time."""
        return list(await asyncio.gather(*(_stats(h, timeout_s) for h in self._sets[None])))

    async def execute(self, operation_id: str, step: str, tasks: Sequence[DeviceTask]) -> list[DeviceResult]:
        """One Ray call per shard; a shard that fails yields a fault per device it did not answer for.
        Each shard hands its results back at the end (in chunks of STREAM_CHUNK, for a large batch)."""
        stream = self.execute_stream(operation_id, step, tasks, timed=False)
        return [r async for chunk in stream for r in chunk]

    def execute_stream(self, operation_id: str, step: str, tasks: Sequence[DeviceTask], *,
                       timed: bool = True) -> AsyncIterator[list[DeviceResult]]:
        """`execute`, the results in chunks as the shards report them (each shard's call is a
        Ray streaming generator: DeviceShardImpl.execute_packed_stream, `timed` as there).
        Every task gets exactly one result: a shard that fails or times out mid-call yields a
        fault for each device it has not reported yet."""
        by_segment: dict[str | None, list[DeviceTask]] = {}
        for task in tasks:
            segment = task.ref.segment if self._factory is not None else None
            by_segment.setdefault(segment, []).append(task)
        calls = []
        for segment, members in by_segment.items():
            groups = group_by_shard(members, lambda t: t.device_id, self.size)
            calls += [self._call(segment, i, operation_id, step, batch, timed) for i, batch in groups.items()]
        return merged(calls)

    async def _call(self, segment: str | None, index: int, operation_id: str, step: str,
                    batch: list[DeviceTask], timed: bool) -> AsyncIterator[list[DeviceResult]]:
        handle = self._handles(segment)[index]
        where = f"shard {index}" + (f" of segment {segment}" if segment else "")
        unreported: dict[str, list[DeviceTask]] = {}   # a device's tasks not answered for yet
        for task in batch:
            unreported.setdefault(task.device_id, []).append(task)
        attempts = CALL_ATTEMPTS if self.shared else 1
        for attempt in range(1, attempts + 1):
            left = _tasks_of(unreported)
            if self.shared:   # bounded: a shard whose segment has no node never answers
                wait_s = self._wait_s if (segment, index) in self._answered else max(self._wait_s,
                                                                                     FIRST_CONTACT_S)
                failed = await _await_ready(handle, wait_s)
                if failed is not None:
                    yield _unavailable(left, f"{where} unavailable: no answer within {wait_s:g} s ({failed})")
                    return
                self._answered.add((segment, index))
            stream = handle.execute_packed_stream.options(num_returns="streaming").remote(
                operation_id, step, pack_tasks(left), timed)
            deadline = asyncio.get_running_loop().time() + _call_timeout(left)
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = unpack_results(await (await anext(stream)))
                except StopAsyncIteration:
                    if unreported:   # not expected: a shard answers for every task it was given
                        yield _unavailable(_tasks_of(unreported), f"{where} left devices unanswered")
                    return
                except RayActorError as exc:
                    if attempt < attempts:
                        break    # it died during the call: once restarted, the rest go again
                    yield _unavailable(_tasks_of(unreported), f"{where} unavailable: {type(exc).__name__}")
                    return
                except (RayError, TimeoutError) as exc:
                    ray.cancel(stream)
                    yield _unavailable(_tasks_of(unreported), f"{where} unavailable: {type(exc).__name__}")
                    return
                for result in chunk:
                    if (waiting := unreported.get(result.device_id)) is not None:
                        waiting.pop()
                        if not waiting:
                            del unreported[result.device_id]
                yield chunk

    async def close(self) -> None:
        """Owned shards are killed; shared ones are left to the other processes."""
        if self.shared:
            self._sets = {None: []}
            return
        for handle in self._sets[None]:
            try:
                await asyncio.wait_for(handle.close.remote(), timeout=5)
            except (RayError, TimeoutError):
                pass
            ray.kill(handle, no_restart=True)
        self._sets = {None: []}


def _tasks_of(unreported: dict[str, list[DeviceTask]]) -> list[DeviceTask]:
    return [task for tasks in unreported.values() for task in tasks]


def _unavailable(batch: list[DeviceTask], detail: str) -> list[DeviceResult]:
    return [DeviceResult.fault(t.device_id, FaultCode.SHARD_UNAVAILABLE, detail) for t in batch]


async def _await_ready(handle, timeout_s: float) -> str | None:
    """None once the shard answers a ping within `timeout_s`; otherwise why not.

    A shard that Ray is restarting (its node lost, a replacement coming) refuses
    calls at once with ActorUnavailableError: it is pinged again, until the
    deadline, rather than given up on.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        ref = handle.ping.remote()
        try:
            async with asyncio.timeout_at(deadline):
                await ref
            return None
        except ActorUnavailableError as exc:
            if asyncio.get_running_loop().time() + RESTART_POLL_S >= deadline:
                return type(exc).__name__
            await asyncio.sleep(RESTART_POLL_S)
        except (RayError, TimeoutError) as exc:
            ray.cancel(ref)
            return type(exc).__name__


def list_shards() -> list[str]:
    """The names of the cluster's shards (this driver must be in NAMESPACE)."""
    return sorted(n for n in ray.util.list_named_actors() if n.startswith("shard-"))


def stop_shards(timeout_s: float = 5.0) -> list[str]:
    """Close and kill every named shard of the cluster (this driver must be in NAMESPACE)."""
    stopped = []
    for name in list_shards():
        try:
            handle = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            continue     # gone meanwhile
        try:
            ray.get(handle.close.remote(), timeout=timeout_s)
        except (RayError, TimeoutError, ray.exceptions.GetTimeoutError):
            pass
        ray.kill(handle, no_restart=True)
        stopped.append(name)
    return stopped


async def _stats(handle, timeout_s: float) -> dict | None:
    ref = handle.stats.remote()
    try:
        async with asyncio.timeout(timeout_s):
            return await ref
    except (RayError, TimeoutError):
        ray.cancel(ref)
        return None


def _call_timeout(batch: list[DeviceTask]) -> float:
    """A shard call outlives the longest per-device deadline it carries."""
    deadlines = [float(t.args.get("deadline_s", 0)) + float(t.args.get("settle_s", 0)) for t in batch]
    return max(CALL_TIMEOUT_S, max(deadlines, default=0.0) + CALL_MARGIN_S)
