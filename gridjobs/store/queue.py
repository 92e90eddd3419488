"""The queue as the admission refresher reads it: active operations grouped, recent claims.

Two grouped reads on one connection; the caller bounds the wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import asyncpg

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
