"""The device registry in memory, for the intake's scope check (no round trip per submission).

Loaded on first use; dropped whenever the registry changes: at once when this
process upserts devices (`upsert_devices` tells every index), and on the
`gridjobs_devices` NOTIFY that every upsert sends, for the other processes. It
answers only while its LISTEN connection is up (a keeper re-LISTENs, and a
reconnect drops the index: anything may have been missed), and only for a
registry of at most MAX_DEVICES devices; otherwise the registry is asked.

An answer from the index is believed only when the check passes: a scope it
calls unknown, or a kind it calls unfit, is asked of the registry again (see
gridjobs.intake). What may be stale, for the few milliseconds a NOTIFY takes
from another process, is a device moved to another feeder or profile.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Sequence

import asyncpg
import structlog

from gridjobs import background
from gridjobs.errors import GridjobsError
from gridjobs.records import Device
from gridjobs.store.listener import Listener
from gridjobs.store.queries import Q

DEVICES_CHANNEL = "gridjobs_devices"
MAX_DEVICES = 200_000        # a larger registry is not held in memory: the registry is asked
KEEP_EVERY_S = 5.0           # re-LISTEN if the connection dropped

log = structlog.get_logger("gridjobs.device_index")
_INDEXES: "weakref.WeakSet[DeviceIndex]" = weakref.WeakSet()


def registry_changed() -> None:
    """Called by the registry's writers of this process after they commit."""
    for index in list(_INDEXES):
        index.invalidate()


class DeviceIndex:
    def __init__(self, dsn: str) -> None:
        self._listener = Listener(dsn, channels={DEVICES_CHANNEL: self._notified},
                                  on_connect=self.invalidate)
        self._devices: dict[str, Device] | None = None
        self._by_feeder: dict[str, list[Device]] = {}
        self._generation = 0
        self._keeper: asyncio.Task[None] | None = None
        self.loads = 0          # how often the registry was read whole (tests, metrics)
        self.notified = 0       # NOTIFYs received (this process's own upserts' come back too)
        _INDEXES.add(self)

    async def start(self) -> None:
        await self._listen()
        self._keeper = background.start(self._keep(), name="gridjobs-device-index-keeper")

    async def close(self) -> None:
        _INDEXES.discard(self)
        if self._keeper is not None:
            await background.stop(self._keeper)
            self._keeper = None
        await self._listener.stop()
        self.invalidate()

    @property
    def usable(self) -> bool:
        return self._listener.alive

    def invalidate(self) -> None:
        self._devices, self._by_feeder = None, {}
        self._generation += 1

    def view(self, conn: asyncpg.Connection | asyncpg.Pool) -> "IndexedConnection":
        return IndexedConnection(conn, self)

    async def in_scope(self, conn: asyncpg.Connection | asyncpg.Pool, *, device_ids: Sequence[str] | None,
                       feeders: Sequence[str] | None) -> list[Device] | None:
        """As `devices_in_scope` (ordered by id), or None: ask the registry."""
        if not self.usable:
            return None
        if self._devices is None:
            await self._load(conn)
        devices = self._devices
        if devices is None:
            return None
        if device_ids is not None:
            return [devices[d] for d in sorted(set(device_ids)) if d in devices]
        found = [d for feeder in set(feeders or ()) for d in self._by_feeder.get(feeder, ())]
        return sorted(found, key=lambda d: d.id)

    async def _load(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        generation = self._generation
        rows = await conn.fetch(Q["all_devices_capped"], MAX_DEVICES + 1)
        self.loads += 1
        if len(rows) > MAX_DEVICES or generation != self._generation:
            return      # too many to hold, or changed while we read: not kept
        devices = {r["id"]: Device.from_row(r) for r in rows}
        by_feeder: dict[str, list[Device]] = {}
        for device in devices.values():
            by_feeder.setdefault(device.feeder, []).append(device)
        self._devices, self._by_feeder = devices, by_feeder

    def _notified(self, payload: str) -> None:
        self.notified += 1
        self.invalidate()

    async def _listen(self) -> None:
        try:
            await self._listener.start()
        except GridjobsError as exc:   # the registry is asked until it comes back
            log.warning("device_index_listen_unavailable", error=str(exc))

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(KEEP_EVERY_S)
            if not self._listener.alive:
                self.invalidate()
                await self._listen()


class IndexedConnection:
    """A connection whose `devices_in_scope` the index answers; everything else is the
    connection's own (a kind's check may read other tables)."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool, index: DeviceIndex) -> None:
        self._conn, self._index = conn, index

    async def cached_scope(self, *, device_ids: Sequence[str] | None,
                           feeders: Sequence[str] | None) -> list[Device] | None:
        return await self._index.in_scope(self._conn, device_ids=device_ids, feeders=feeders)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)
