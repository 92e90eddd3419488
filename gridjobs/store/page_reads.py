"""Reads only the control-room page needs: operations by feeder, one device's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from gridjobs.records import Operation
from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class DeviceEntry:
    """One device's outcome in one operation, with what the operation was."""

    operation_id: UUID
    kind: str
    operation_status: str
    created_at: datetime
    state: str
    step: str
    code: str | None
    attempts: int
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "DeviceEntry":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def _area(area: frozenset[str] | None) -> list[str] | None:
    return None if area is None else sorted(area)


@translated
async def page_operations(pool: asyncpg.Pool, *, kind: str | None, status: str | None,
                          feeder: str | None, limit: int,
                          area: frozenset[str] | None) -> list[Operation]:
    """Newest first; `feeder`: operations whose scope reached it."""
    rows = await pool.fetch(Q["page_operations"], kind, status, feeder, limit, _area(area))
    return [Operation.from_row(r) for r in rows]


@translated
async def device_history(pool: asyncpg.Pool, device_id: str, *, limit: int,
                         area: frozenset[str] | None) -> list[DeviceEntry]:
    rows = await pool.fetch(Q["device_history"], device_id, limit, _area(area))
    return [DeviceEntry.from_row(r) for r in rows]
