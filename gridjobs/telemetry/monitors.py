"""open_monitors: the background watchers one process runs beside its work.

The queue refresher (admission depth per lane, queue gauges), the shard
stats poller (Modbus metrics per gateway, shard restarts) when this process
has shards, and the running-operations gauge. All stop when the block ends.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

from actors.pool import ShardPool
from gridjobs.admission.gate import QueueGate
from gridjobs.admission.refresher import QueueRefresher
from gridjobs.config import Settings
from gridjobs.metrics import OPERATIONS_RUNNING
from gridjobs.telemetry.shard_stats import ShardStatsPoller


def _none() -> int:
    return 0


@asynccontextmanager
async def open_monitors(settings: Settings, gate: QueueGate, *, shards: ShardPool | None,
                        running: Callable[[], int] | None) -> AsyncIterator[QueueRefresher]:
    refresher = QueueRefresher(settings.database_url, gate, every_s=settings.queue_refresh_s,
                               window_s=settings.drain_window_s)
    poller = ShardStatsPoller(shards) if shards is not None else None
    await refresher.start()
    try:
        if poller is not None:
            await poller.start()
        OPERATIONS_RUNNING.set_function(running or _none)
        yield refresher
    finally:
        OPERATIONS_RUNNING.set_function(_none)
        if poller is not None:
            await poller.stop()
        await refresher.stop()
