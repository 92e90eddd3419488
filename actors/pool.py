"""ShardPool: a fixed set of DeviceShard actors and the fan-out over them."""

from __future__ import annotations

import asyncio
from typing import Sequence

import ray
from ray.exceptions import RayError

from adapters import FaultCode
from actors.placement import group_by_shard
from actors.shard import DeviceShard, ShardConfig
from actors.tasks import DeviceResult, DeviceTask

MAX_CONCURRENCY = 1000
CALL_TIMEOUT_S = 300.0   # at least this; longer when the tasks carry longer deadlines
CALL_MARGIN_S = 60.0


class ShardPool:
    def __init__(self, handles: Sequence) -> None:
        self._handles = list(handles)

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

    @property
    def size(self) -> int:
        return len(self._handles)

    def handle(self, index: int):
        return self._handles[index]

    async def ping(self, timeout_s: float) -> bool:
        refs = [h.ping.remote() for h in self._handles]
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*refs)
        return True

    async def stats(self, timeout_s: float) -> list[dict | None]:
        """Every shard's `stats()`, in shard order; None for one that did not answer in time."""
        return list(await asyncio.gather(*(_stats(h, timeout_s) for h in self._handles)))

    async def execute(self, operation_id: str, step: str, tasks: Sequence[DeviceTask]) -> list[DeviceResult]:
        """One Ray call per shard; a shard that fails yields a fault per device."""
        groups = group_by_shard(tasks, lambda t: t.device_id, self.size)
        calls = [self._call(i, operation_id, step, batch) for i, batch in groups.items()]
        results: list[DeviceResult] = []
        for batch_results in await asyncio.gather(*calls):
            results.extend(batch_results)
        return results

    async def _call(self, index: int, operation_id: str, step: str, batch: list[DeviceTask]) -> list[DeviceResult]:
        ref = self._handles[index].execute.remote(operation_id, step, batch)
        try:
            async with asyncio.timeout(_call_timeout(batch)):
                return await ref
        except (RayError, TimeoutError) as exc:
            ray.cancel(ref)
            detail = f"shard {index} unavailable: {type(exc).__name__}"
            return [DeviceResult.fault(t.device_id, FaultCode.SHARD_UNAVAILABLE, detail) for t in batch]

    async def close(self) -> None:
        for handle in self._handles:
            try:
                await asyncio.wait_for(handle.close.remote(), timeout=5)
            except (RayError, TimeoutError):
                pass
            ray.kill(handle, no_restart=True)
        self._handles = []


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
