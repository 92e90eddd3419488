"""ShardStatsPoller: pulls every shard's stats now and then, for /metrics.

The Modbus requests happen in the shards' processes, out of reach of this
process's registry. Every `every_s` the poller asks each shard for its
`stats()` (bounded by `timeout_s`), folds them into `ShardTotals`, counts
restarts and publishes the per-gateway totals to `metrics.MODBUS`.
"""

from __future__ import annotations

import asyncio

from actors.pool import ShardPool
from gridjobs import background
from gridjobs.metrics import MODBUS, SHARD_RESTARTS, SHARD_STATS_FAILURES
from gridjobs.telemetry.shard_totals import ShardTotals

SHARD_STATS_EVERY_S = 5.0
SHARD_STATS_TIMEOUT_S = 2.0


class ShardStatsPoller:
    def __init__(self, shards: ShardPool, *, every_s: float = SHARD_STATS_EVERY_S,
                 timeout_s: float = SHARD_STATS_TIMEOUT_S) -> None:
        self.shards, self.every_s, self.timeout_s = shards, every_s, timeout_s
        self.totals = ShardTotals()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.pull()
        self._task = background.start(self._loop(), name="gridjobs-shard-stats")

    async def stop(self) -> None:
        if self._task is not None:
            await background.stop(self._task)
            self._task = None

    async def pull(self) -> list[int]:
        """Pull every shard's stats; return the shards seen to have restarted."""
        restarted = []
        for index, stats in enumerate(await self.shards.stats(self.timeout_s)):
            if stats is None:
                SHARD_STATS_FAILURES.labels(str(index)).inc()
            elif self.totals.update(index, stats["incarnation"], stats["gateways"]):
                SHARD_RESTARTS.labels(str(index)).inc()
                restarted.append(index)
        MODBUS.publish(self.totals.totals())
        return restarted

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.pull()
