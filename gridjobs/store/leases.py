"""Claims, leases and every fenced write a running operation makes.

A claim bumps the operation's fence. Each later write names the fence it was
claimed with; a write from a process whose lease was taken over matches no
row and raises StaleLeaseError instead of overwriting the newer owner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import asyncpg

from gridjobs.errors import StaleLeaseError
from gridjobs.records import Operation, Outcome
from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class OutcomeWrite:
    device_id: str
    state: str
    step: str
    seq: int
    code: str | None = None
    detail: str | None = None
    attempts: int = 0
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Beat:
    cancel: bool
    resume: bool


@translated
async def claim_next(pool: asyncpg.Pool, *, owner: str, lease_s: float) -> Operation | None:
    row = await pool.fetchrow(Q["claim_operation"], owner, lease_s)
    return Operation.from_row(row) if row else None


@dataclass(frozen=True)
class Lease:
    """A held claim on one operation: (operation id, fence)."""

    pool: asyncpg.Pool
    operation: Operation
    lease_s: float

    @property
    def fence(self) -> int:
        return self.operation.fence

    @property
    def op_id(self):
        return self.operation.id

    @translated
    async def heartbeat(self) -> Beat:
        """Extend the lease; report whether cancel or resume was requested."""
        row = await self.pool.fetchrow(Q["heartbeat"], self.op_id, self.fence, self.lease_s)
        if row is None:
            raise StaleLeaseError(f"lease on operation {self.op_id} was lost")
        return Beat(cancel=bool(row["cancel_requested"]), resume=bool(row["resume_requested"]))

    @translated
    async def pause(self) -> None:
        """Status `paused`: the run waits for POST .../resume, holding its lease."""
        await self._fenced(Q["pause_operation"], self.op_id, self.fence)

    @translated
    async def unpause(self) -> None:
        await self.pool.execute(Q["unpause_operation"], self.op_id, self.fence)

    @translated
    async def release(self) -> None:
        await self.pool.execute(Q["release_lease"], self.op_id, self.fence)

    @translated
    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        await self._fenced(Q["save_checkpoint"], self.op_id, self.fence, checkpoint)

    @translated
    async def finish(
        self, status: str, *, result: dict[str, Any] | None,
        error_code: str | None = None, error_detail: str | None = None,
    ) -> None:
        await self._fenced(
            Q["finish_operation"], self.op_id, self.fence, status, result, error_code, error_detail
        )

    @translated
    async def record(self, writes: Sequence[OutcomeWrite]) -> None:
        """Write outcomes in one statement; all are refused if the fence moved."""
        if not writes:
            return
        columns = (
            [w.device_id for w in writes], [w.state for w in writes],
            [w.step for w in writes], [w.code for w in writes],
            [w.detail for w in writes], [w.attempts for w in writes],
            [json.dumps(w.data or {}) for w in writes], [w.seq for w in writes],
        )
        await self._fenced(Q["upsert_outcomes"], self.op_id, self.fence, *columns)

    @translated
    async def outcomes(self) -> list[Outcome]:
        rows = await self.pool.fetch(Q["load_outcomes"], self.op_id)
        return [Outcome.from_row(r) for r in rows]

    async def _fenced(self, query: str, *args: Any) -> None:
        status = await self.pool.execute(query, *args)
        if status.endswith(" 0"):
            raise StaleLeaseError(f"lease on operation {self.op_id} was lost")
