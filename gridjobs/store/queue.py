"""The queue as the admission refresher reads it: active operations grouped, recent claims.

Two grouped reads on one connection; the caller bounds the wait. `shared_queue_snapshot`
shares a reading between the API processes (table queue_readings): a process takes the
last one any of them made while it is younger than `max_age_s`, and reads (and shares)
a new one otherwise, so the grouped reads, which grow with the queue, run about once per
interval however many processes there are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

import asyncpg
import orjson

from gridjobs.states import Status
from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class QueueGroup:
    """Active operations of one kind, status and priority."""

    kind: str
    status: Status
    priority: int
    operations: int
    oldest_queued_s: float | None   # None unless the group is queued

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "QueueGroup":
        return cls(row["kind"], Status(row["status"]), row["priority"], row["operations"],
                   row["oldest_queued_s"])


@dataclass(frozen=True)
class ClaimedGroup:
    """Operations of one kind and priority that were claimed within the window."""

    kind: str
    priority: int
    operations: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "ClaimedGroup":
        return cls(row["kind"], row["priority"], row["operations"])


@dataclass(frozen=True)
class QueueSnapshot:
    groups: tuple[QueueGroup, ...]
    claimed: tuple[ClaimedGroup, ...]
    window_s: float


@translated
async def queue_snapshot(conn: asyncpg.Connection | asyncpg.Pool, *,
                         window_s: float) -> QueueSnapshot:
    groups = await conn.fetch(Q["queue_groups"])
    claimed = await conn.fetch(Q["claimed_since"], window_s)
    return QueueSnapshot(tuple(QueueGroup.from_row(r) for r in groups),
                         tuple(ClaimedGroup.from_row(r) for r in claimed), window_s)


@dataclass(frozen=True)
class SharedSnapshot:
    snapshot: QueueSnapshot
    age_s: float     # how long before it was handed over the reading began (0: read just now)


@translated
async def shared_queue_snapshot(conn: asyncpg.Connection, *, window_s: float,
                                max_age_s: float) -> SharedSnapshot:
    """The last shared reading if it is younger than `max_age_s` (its queued ages brought
    up to now), else a new one, read and shared in one transaction. While another process
    is making the new one, the last one (the processes that refresh in step would
    otherwise all read the queue at once, every time)."""
    key = f"window {window_s:g} s"
    row = await conn.fetchrow(Q["queue_reading"], key)
    if row is not None and 0 <= row["age_s"] < max_age_s:
        return _shared(row, window_s)
    async with conn.transaction():
        if not await conn.fetchval(Q["lock_queue_reading"], key) and row is not None:
            return _shared(row, window_s)
        snapshot = await queue_snapshot(conn, window_s=window_s)
        await conn.execute(Q["save_queue_reading"], key, _document(snapshot))
    return SharedSnapshot(snapshot, 0.0)


def _shared(row: Mapping[str, Any], window_s: float) -> SharedSnapshot:
    reading = _from_document(row["reading"], window_s)   # jsonb: decoded by the connection
    age_s = max(0.0, row["age_s"])
    return SharedSnapshot(_aged(reading, age_s), age_s)


def _document(snapshot: QueueSnapshot) -> str:
    return orjson.dumps({"groups": [{**asdict(g), "status": g.status.value} for g in snapshot.groups],
                         "claimed": [asdict(c) for c in snapshot.claimed]}).decode()


def _from_document(document: Mapping[str, Any], window_s: float) -> QueueSnapshot:
    return QueueSnapshot(tuple(QueueGroup.from_row(g) for g in document["groups"]),
                         tuple(ClaimedGroup.from_row(c) for c in document["claimed"]), window_s)


def _aged(snapshot: QueueSnapshot, age_s: float) -> QueueSnapshot:
    """The oldest queued operations are `age_s` older now than when the reading was made."""
    return replace(snapshot, groups=tuple(
        g if g.oldest_queued_s is None else replace(g, oldest_queued_s=g.oldest_queued_s + age_s)
        for g in snapshot.groups))
