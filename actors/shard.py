"""DeviceShard: one Ray async actor per shard, holding many devices.

A shard keeps per-device state, serialises the commands sent to each device
(one lock per device) and runs a batch of step programs per call: the
dispatcher sends one call per shard per batch, never one per device.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import time
import uuid
from collections import Counter
from contextlib import aclosing, suppress
from dataclasses import dataclass
from typing import Any, AsyncIterator

import ray

from adapters import (
    AdapterError, DeviceClient, DeviceFault, FaultCode, Profile, ProfileError, SessionPool, load_profile,
)
from actors.priority_lock import PriorityLock
from actors.firmware_steps import FIRMWARE_STEPS
from actors.key_steps import KEY_STEPS
from actors.services import ServicesFactory, ShardServices
from actors.step_names import Step
from actors.steps import CURTAIL_STEPS, DeviceCall, StepSpec
from actors.tasks import (
    DeviceResult, DeviceState, DeviceTask, PackedResult, PackedTask, pack_results, unpack_tasks,
)

# A safety net, not the timeout that matters: every request has its own
# timeout, and a step waits its turn behind other units on the gateway.
DEVICE_DEADLINE_S = 120.0
REQUEST_TIMEOUT_S = 1.0
MAX_INFLIGHT_PER_GATEWAY = 16
# A batch this large leaves megabytes of freed heap behind (its tasks, results,
# coroutines): handed back to the OS after it, so a shard's RSS is what it holds.
TRIM_AFTER_TASKS = 1000
# A batch keeps every device's coroutine, task and request alive at once (100,000 objects
# and more at 10,000 devices), and CPython's collector walks them again and again as the
# batch allocates: in a 10,000-device survey, a quarter of the time (2.0 s against 1.46 s). A shard's own
# process collects its young objects every SHARD_GC_YOUNG_THRESHOLD allocations instead
# of every 700 (Python's default); see ShardConfig.gc_young_threshold. The objects that
# survive it (the batch's, mostly, still in flight) are walked again at every collection
# of the middle generation: every SHARD_GC_MIDDLE_EVERY young collections instead of 10,
# which at 10,000 devices took a further 15 % of a shard's CPU (in process, CPU per
# device: survey 93 -> 75 us, curtail 187 -> 152 us). What survives that goes to the old
# generation as before.
SHARD_GC_YOUNG_THRESHOLD = 20_000
SHARD_GC_MIDDLE_EVERY = 100
# A streamed call (`execute_stream`) hands its results back as the devices finish: a chunk
# once this many are in, or this long after the last chunk if any are. At 10,000 devices
# the runner records most outcomes while the rest are still being curtailed. A chunk is
# not free while devices are still running: the shard saves its state and packs it on
# the loop that drives the gateways, and the runner's writes take CPU from the shard and
# the gateways on a small machine. At 1,000 devices (a curtail of about 0.5 s), a chunk
# every 0.25 s cost more than it saved, in three back-to-back pairs each: ratio 1.69,
# 1.47, 1.56 against 1.50, 1.50, 1.49 with one chunk a second; chunks of an eighth of
# the batch made it worse (1.45, 1.59, 1.51 against 1.61, 1.67, 1.71). At 10,000 devices
# the chunks still come by count, a thousand results at a time (1.51 against 1.64).
# Since read-backs go first on each gateway (adapters.session), devices finish one after
# another rather than all in the last half of a curtail; chunks every 0.25 s were still
# worse at 1,000 devices (1.53, 1.65, 1.85 against 1.62, 1.58, 1.53). A plain `execute`
# (the survey, whose results are wanted all at once) gets chunks by count only.
STREAM_CHUNK = 1000
STREAM_EVERY_S = 1.0


@dataclass(frozen=True)
class ShardConfig:
    services: ServicesFactory | None = None   # called in the shard's process; None: in memory
    request_timeout_s: float = REQUEST_TIMEOUT_S
    device_deadline_s: float = DEVICE_DEADLINE_S
    max_inflight_per_gateway: int = MAX_INFLIGHT_PER_GATEWAY
    profile_dirs: tuple[str, ...] = ()
    # Set for a shard with a process of its own (a Ray actor): the process's collector runs
    # its youngest generation every this many allocations (its middle one every
    # SHARD_GC_MIDDLE_EVERY of those), and what the process holds at start is frozen out
    # of its sight. None (in-process shards: tests, benches) changes nothing.
    gc_young_threshold: int | None = None


STEPS: dict[Step, StepSpec] = {**CURTAIL_STEPS, **FIRMWARE_STEPS, **KEY_STEPS}


class DeviceShardImpl:
    """The shard's logic; `DeviceShard` is this class as a Ray actor."""

    def __init__(self, index: int, config: ShardConfig) -> None:
        self.index = index
        self._config = config
        if config.gc_young_threshold is not None:
            gc.freeze()
            gc.set_threshold(config.gc_young_threshold, SHARD_GC_MIDDLE_EVERY, gc.get_threshold()[2])
        self._sessions = SessionPool(
            timeout_s=config.request_timeout_s, max_inflight=config.max_inflight_per_gateway
        )
        self._services = config.services() if config.services is not None else ShardServices()
        self._state: dict[str, DeviceState] = {}
        self._locks: dict[str, PriorityLock] = {}
        self._profiles: dict[str, Profile] = {}
        self._calls: Counter[str] = Counter()
        self._tasks: Counter[str] = Counter()
        self._seconds: Counter[str] = Counter()
        # A new value each time Ray (re)starts this actor: its counters start over then.
        self._incarnation = uuid.uuid4().hex
        self._started_at = time.time()

    async def ping(self) -> int:
        return self.index

    async def where(self, devices: bool = False) -> dict[str, Any]:
        """The Ray node and actor this shard runs as (only meaningful inside Ray), its calls
        per step, and with `devices` the ids of the devices it has driven since it started."""
        context = ray.get_runtime_context()
        found = {"index": self.index, "node_id": context.get_node_id(),
                 "actor_id": context.get_actor_id(), "incarnation": self._incarnation,
                 "calls": dict(self._calls), "pid": os.getpid()}
        if devices:
            found["devices"] = sorted(self._state)
        return found

    async def execute(self, operation_id: str, step: str, tasks: list[DeviceTask]) -> list[DeviceResult]:
        """Run `step` on every device of the batch at once; the results in the tasks' order."""
        results: list[DeviceResult | None] = [None] * len(tasks)
        async with aclosing(self._chunks(operation_id, step, tasks, every_s=None)) as chunks:
            async for chunk in chunks:
                for index, result in chunk:
                    results[index] = result
        return results   # type: ignore[return-value]   (every index is filled)

    async def execute_stream(self, operation_id: str, step: str, tasks: list[DeviceTask],
                             timed: bool = True) -> AsyncIterator[list[DeviceResult]]:
        """`execute`, its results in chunks as the devices finish (in no set order): a chunk
        once STREAM_CHUNK results are in, or (if `timed`) STREAM_EVERY_S after the last
        chunk. The devices' state is saved before the chunk that reports them. If the
        consumer stops early, the devices still running are cancelled."""
        chunks = self._chunks(operation_id, step, tasks, every_s=STREAM_EVERY_S if timed else None)
        async with aclosing(chunks):   # closed with this one
            async for chunk in chunks:
                yield [result for _, result in chunk]

    async def _chunks(self, operation_id: str, step: str, tasks: list[DeviceTask], *,
                      every_s: float | None) -> AsyncIterator[list[tuple[int, DeviceResult]]]:
        spec = STEPS[_step(step)]
        started = time.perf_counter()
        self._calls[step] += 1
        self._tasks[step] += len(tasks)
        await self._rebuild([t.device_id for t in tasks])
        done: list[tuple[int, DeviceResult]] = []   # (the task's index, its result), not yet handed back
        ready = asyncio.Event()
        finished = 0

        async def run(index: int, task: DeviceTask) -> None:
            nonlocal finished
            try:
                done.append((index, await _run_one(self, spec, operation_id, task)))
            finally:
                finished += 1
                if len(done) >= STREAM_CHUNK or finished == len(tasks):
                    ready.set()

        runs = [asyncio.ensure_future(run(i, t)) for i, t in enumerate(tasks)]
        try:
            while finished < len(tasks) or done:
                if finished < len(tasks) and len(done) < STREAM_CHUNK:
                    with suppress(TimeoutError):
                        async with asyncio.timeout(every_s):   # None: until a chunk is full or all are done
                            await ready.wait()
                ready.clear()
                chunk = done[:]
                done.clear()
                if not chunk:
                    continue
                if step != Step.SURVEY:
                    await self._services.device_state.save((r.device_id, self._state[r.device_id])
                                                           for _, r in chunk)
                yield chunk
            for finished_run in runs:   # a step that raised (a bug, not a device fault) fails the call
                finished_run.result()
        finally:
            for still_running in runs:
                still_running.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            self._seconds[step] += time.perf_counter() - started
            if len(tasks) >= TRIM_AFTER_TASKS:
                _release_freed_heap()

    async def execute_packed_stream(self, operation_id: str, step: str, packed: list[PackedTask],
                                    timed: bool = True) -> AsyncIterator[list[PackedResult]]:
        """`execute_stream`, for tasks and results packed as plain tuples: how the pool calls
        it over Ray, as a streaming generator (actors.tasks.pack_tasks says why packed)."""
        async with aclosing(self.execute_stream(operation_id, step, unpack_tasks(packed), timed)) as chunks:
            async for chunk in chunks:
                yield pack_results(chunk)

    async def stats(self) -> dict[str, Any]:
        """Since this actor (re)started: calls and device tasks received per step, and
        Modbus request counts per gateway (`host:port` -> `adapters.RequestCounts`).
        `incarnation` changes when the actor restarts, and the counts start over."""
        return {"calls": dict(self._calls), "tasks": dict(self._tasks),
                "seconds": {k: round(v, 4) for k, v in self._seconds.items()},
                "gateways": self._sessions.counts(),
                "incarnation": self._incarnation, "started_at": self._started_at}

    async def state_of(self, device_ids: list[str]) -> dict[str, DeviceState]:
        await self._rebuild(device_ids)
        return {d: self._state[d] for d in device_ids}

    async def close(self) -> None:
        await self._sessions.close()
        await self._services.close()

    async def _rebuild(self, device_ids: list[str]) -> None:
        missing = [d for d in device_ids if d not in self._state]
        if not missing:
            return
        loaded = await self._services.device_state.load(missing)
        for device_id in missing:
            self._state.setdefault(device_id, loaded.get(device_id, DeviceState()))

    def _profile(self, name: str) -> Profile:
        if name not in self._profiles:
            self._profiles[name] = load_profile(name, search_dirs=self._config.profile_dirs)
        return self._profiles[name]


async def _run_one(shard: DeviceShardImpl, spec: StepSpec, operation_id: str, task: DeviceTask) -> DeviceResult:
    """One device's step program, under its lock and deadline; a fault becomes its result.

    A function, not a method: Ray wraps every coroutine method of an actor class in
    a tracing coroutine of its own, and this runs once per device per step."""
    if (lock := shard._locks.get(task.device_id)) is None:
        lock = shard._locks[task.device_id] = PriorityLock()
    try:
        profile = shard._profiles.get(task.ref.profile) or shard._profile(task.ref.profile)
    except ProfileError as exc:
        return DeviceResult.fault(task.device_id, FaultCode.UNKNOWN_PROFILE, str(exc))
    client = DeviceClient(
        session=shard._sessions.session(host=task.ref.host, port=task.ref.port),
        unit_id=task.ref.unit_id, profile=profile,
    )
    # The deadline covers the step's own bounded waits (a ramp to settle, a reboot).
    deadline = (float(task.args.get("deadline_s", shard._config.device_deadline_s))
                + float(task.args.get("settle_s", 0.0)))
    call = DeviceCall(client, operation_id, task, shard._state[task.device_id], lock, shard._services)
    try:
        async with asyncio.timeout(deadline):
            if spec.priority is None:
                return await spec.program(call)
            async with lock.hold(spec.priority):
                return await spec.program(call)
    except DeviceFault as fault:
        return DeviceResult.fault(task.device_id, fault.code, fault.detail)
    except AdapterError as exc:  # e.g. the profile lacks a role this step needs
        return DeviceResult.fault(task.device_id, FaultCode.UNSUPPORTED_DEVICE, str(exc))
    except TimeoutError:
        return DeviceResult.fault(
            task.device_id, FaultCode.DEVICE_TIMEOUT,
            f"step did not finish within {deadline:g} s",
        )


def _load_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim   # glibc; elsewhere nothing is trimmed
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _load_malloc_trim()


def _release_freed_heap() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _step(name: str) -> Step:
    try:
        return Step(name)
    except ValueError:
        raise ValueError(f"unknown step {name!r}; known: {sorted(map(str, Step))}") from None


DeviceShard = ray.remote(DeviceShardImpl)
