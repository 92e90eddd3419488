"""The cluster's shard count, recorded in Postgres by the first process attached to it.

Device placement hashes a device id over the shard count: two processes with
different counts would drive one device through two actors (two priority locks).
"""

from __future__ import annotations

import asyncpg

from gridjobs.errors import ConfigError
from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@translated
async def _record(pool: asyncpg.Pool, shards: int) -> int:
    return int(await pool.fetchval(Q["record_shard_count"], shards))


async def settle_shard_count(pool: asyncpg.Pool, shards: int) -> int:
    """Record `shards` if no count is recorded; refuse (ConfigError) one that differs."""
    recorded = await _record(pool, shards)
    if recorded != shards:
        raise ConfigError(
            f"this cluster runs {recorded} shards (recorded in the database at its first start); "
            f"this process was started with {shards}: start it with --shards {recorded} "
            f"(GRIDJOBS_SHARDS={recorded}), or change the cluster's count as README "
            f"\"Running on a cluster\" says (`gridjobs shards set-count`)")
    return recorded


@translated
async def set_shard_count(pool: asyncpg.Pool, shards: int) -> int:
    """The explicit change: refused while an operation runs (its devices are placed by the old count)."""
    if shards < 1:
        raise ConfigError(f"the shard count must be >= 1, got {shards}")
    async with pool.acquire() as conn, conn.transaction():
        running = await conn.fetchval(Q["active_operations"])
        if running:
            raise ConfigError(f"{running} operations are running: stop every `gridjobs serve` "
                              f"process (they hand their operations back) before changing the count")
        return int(await conn.fetchval(Q["set_shard_count"], shards))
