"""`gridjobs shards …`: the cluster's named DeviceShard actors, and their recorded count.

`list` and `stop` attach to the Ray cluster (RAY_ADDRESS or --ray-address);
`set-count` talks to Postgres, as `serve` does.
"""

from __future__ import annotations

import asyncio
import json

import ray
from ray.exceptions import GetTimeoutError, RayError

from actors.pool import NAMESPACE, list_shards, stop_shards
from gridjobs.bootstrap import database
from gridjobs.config import Settings
from gridjobs.errors import ConfigError
from gridjobs.store.database import create_pool, migrate
from gridjobs.store.shard_layout import set_shard_count

WHERE_TIMEOUT_S = 10.0


def _attach(settings: Settings) -> None:
    if not settings.ray_address:
        raise ConfigError("shards live on a Ray cluster: give its address (--ray-address or RAY_ADDRESS); "
                          "a local Ray's shards end with the process that started it")
    ray.init(address=settings.ray_address, namespace=NAMESPACE, include_dashboard=False,
             log_to_driver=False, configure_logging=False)


def describe_shards(*, devices: bool = False) -> list[dict]:
    """Name, actor id and node id of every shard; node_id None for one that did not answer."""
    found = []
    for name in list_shards():
        entry: dict = {"name": name, "actor_id": None, "node_id": None}
        try:
            handle = ray.get_actor(name, namespace=NAMESPACE)
            entry["actor_id"] = handle._actor_id.hex()
            entry.update(ray.get(handle.where.remote(devices), timeout=WHERE_TIMEOUT_S))
        except (ValueError, RayError, GetTimeoutError):
            pass
        found.append(entry)
    return found


async def _set_count(dsn: str, shards: int) -> int:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        return await set_shard_count(pool, shards)
    finally:
        await pool.close()


def run_shards(settings: Settings, args) -> int:
    if args.action == "set-count":
        with database(settings, master_key=False) as resolved:
            count = asyncio.run(_set_count(resolved.database_url, args.count))
        print(f"the cluster's shard count is now {count}: start every `gridjobs serve` with --shards {count}")
        return 0
    _attach(settings)
    try:
        if args.action == "stop":
            stopped = stop_shards()
            print(f"stopped {len(stopped)} shards" + (f": {', '.join(stopped)}" if stopped else ""))
        else:
            for entry in describe_shards(devices=args.devices):
                print(json.dumps(entry) if args.json else
                      f"{entry['name']:<32} {entry['actor_id'] or '-':<34} {entry['node_id'] or 'unavailable'}")
    finally:
        ray.shutdown()
    return 0
