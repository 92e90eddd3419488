"""The append-only audit log of key work. The database refuses UPDATE and DELETE.

Entries describe what was done (step, key version, outcome); they never carry
key material.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from uuid import UUID

import asyncpg

from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class AuditEntry:
    """One line to append; fields in the table's column order."""

    operation_id: UUID | None
    device_id: str
    step: str
    key_version: int | None
    outcome: str
    detail: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    operation_id: UUID | None
    device_id: str
    step: str
    key_version: int | None
    outcome: str
    detail: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "AuditRecord":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@translated
async def record_audit(conn_or_pool: asyncpg.Connection | asyncpg.Pool,
                       entries: Sequence[AuditEntry]) -> None:
    """Append entries in one statement (inside the caller's transaction, given one)."""
    if not entries:
        return
    await conn_or_pool.execute(
        Q["insert_audit"],
        [e.operation_id for e in entries], [e.device_id for e in entries],
        [e.step for e in entries], [e.key_version for e in entries],
        [e.outcome for e in entries], [e.detail for e in entries],
    )


@translated
async def list_audit(conn_or_pool: asyncpg.Connection | asyncpg.Pool, *, device_id: str | None,
                     operation_id: UUID | None, before_id: int | None, limit: int
                     ) -> list[AuditRecord]:
    """Newest first; `before_id` is the id of the last record of the previous page."""
    rows = await conn_or_pool.fetch(Q["list_audit"], device_id, operation_id, before_id, limit)
    return [AuditRecord.from_row(r) for r in rows]
