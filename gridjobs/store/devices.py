"""The device registry."""

from __future__ import annotations

from typing import Sequence

import asyncpg

from gridjobs.errors import NotFound
from gridjobs.records import Device
from gridjobs.store.database import translated
from gridjobs.store.device_index import registry_changed
from gridjobs.store.queries import Q


def _args(device: Device) -> tuple:
    return (
        device.id, device.profile, device.host, device.port, device.unit_id,
        device.feeder, device.shed_priority, device.protected, device.rated_kw, device.segment,
    )


@translated
async def upsert_devices(pool: asyncpg.Pool, devices: Sequence[Device]) -> list[Device]:
    """Upsert all devices in one transaction: all or nothing."""
    async with pool.acquire() as conn, conn.transaction():
        rows = [await conn.fetchrow(Q["upsert_device"], *_args(d)) for d in devices]
        await conn.execute(Q["notify_devices"])   # other processes' device indexes
    registry_changed()                            # this process's, at once
    return [Device.from_row(r) for r in rows]


@translated
async def get_device(pool: asyncpg.Pool, device_id: str) -> Device:
    row = await pool.fetchrow(Q["get_device"], device_id)
    if row is None:
        raise NotFound(f"device {device_id!r} does not exist")
    return Device.from_row(row)


@translated
async def list_devices(
    pool: asyncpg.Pool, *, feeder: str | None, profile: str | None, after: str | None, limit: int,
    area: frozenset[str] | None = None,
) -> list[Device]:
    """By id; with an `area`, only devices on its feeders."""
    rows = await pool.fetch(Q["list_devices"], feeder, profile, after, limit,
                            None if area is None else sorted(area))
    return [Device.from_row(r) for r in rows]


@translated
async def devices_in_scope(
    conn: asyncpg.Connection | asyncpg.Pool, *, device_ids: Sequence[str] | None, feeders: Sequence[str] | None
) -> list[Device]:
    cached_scope = getattr(conn, "cached_scope", None)   # a device index's view (intake)
    if cached_scope is not None:
        found = await cached_scope(device_ids=device_ids, feeders=feeders)
        if found is not None:
            return found
    if device_ids is not None:
        rows = await conn.fetch(Q["devices_by_ids"], list(device_ids))
    else:
        rows = await conn.fetch(Q["devices_by_feeders"], list(feeders or ()))
    return [Device.from_row(r) for r in rows]


@translated
async def devices_by_ids(conn: asyncpg.Connection | asyncpg.Pool, device_ids: Sequence[str]) -> list[Device]:
    if not device_ids:
        return []
    return await devices_in_scope(conn, device_ids=device_ids, feeders=None)


@translated
async def last_readings(pool: asyncpg.Pool, device_ids: Sequence[str]) -> dict[str, float]:
    """The last measured kW the shards recorded, for devices that have one."""
    rows = await pool.fetch(Q["last_readings"], list(device_ids))
    return {r["device_id"]: r["last_kw"] for r in rows}
