"""Claims, leases and every fenced write a running operation makes.

A claim bumps the operation's fence. Each later write names the fence it was
claimed with; a write from a process whose lease was taken over matches no
row and raises StaleLeaseError instead of overwriting the newer owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence
from uuid import UUID

import asyncpg
import orjson

from gridjobs.errors import StaleLeaseError
from gridjobs.records import Operation, Outcome
from gridjobs.store.database import translated
from gridjobs.store.parts import write_in_parts
from gridjobs.store.queries import Q

PROGRESS_EVERY_S = 1.0   # at most one operation.progress event per operation this often
# A record of more than RECORD_SPLIT_AT outcomes is written as RECORD_PARTS statements at
# once (gridjobs.store.parts): a 1,000-device shed's last 950 outcomes took 20-40 ms of one
# core of this 2-core machine, written when the devices are done and nothing else runs.
RECORD_SPLIT_AT = 400
RECORD_PARTS = 2


@dataclass(frozen=True)
class Beat:
    cancel: bool
    resume: bool


@translated
async def claim_next(pool: asyncpg.Pool, *, owner: str, lease_s: float,
                     running: Sequence[UUID] = ()) -> Operation | None:
    """The next operation to run, claimed with a new fence; never one of `running`
    (those this process still runs, even if their lease ran out meanwhile)."""
    row = await pool.fetchrow(Q["claim_operation"], owner, lease_s, list(running))
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
    def operation_id(self) -> UUID:
        return self.operation.id

    @translated
    async def heartbeat(self) -> Beat:
        """Extend the lease; report whether cancel or resume was requested."""
        row = await self.pool.fetchrow(Q["heartbeat"], self.operation_id, self.fence, self.lease_s)
        if row is None:
            raise StaleLeaseError(f"lease on operation {self.operation_id} was lost")
        # the trailing operation.progress, should the last record have come too soon after another
        await self.pool.execute(Q["progress_event"], self.operation_id, PROGRESS_EVERY_S)
        return Beat(cancel=bool(row["cancel_requested"]), resume=bool(row["resume_requested"]))

    @translated
    async def pause(self) -> None:
        """Status `paused` (and operation.paused): the run waits for POST .../resume, holding its lease."""
        await self._counted(Q["pause_operation"], self.operation_id, self.fence)

    @translated
    async def unpause(self) -> None:
        await self.pool.execute(Q["unpause_operation"], self.operation_id, self.fence)

    @translated
    async def release(self) -> None:
        await self.pool.execute(Q["release_lease"], self.operation_id, self.fence)

    @translated
    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Fenced. A checkpoint that moves the run (phase, hold, wave) has its
        operation.progress event in the same transaction, at once (progress_event)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._fenced(Q["save_checkpoint"], self.operation_id, self.fence, checkpoint, conn=conn)
            await conn.execute(Q["progress_event"], self.operation_id, PROGRESS_EVERY_S)

    @translated
    async def finish(
        self, status: str, *, result: dict[str, Any] | None,
        error_code: str | None = None, error_detail: str | None = None,
    ) -> None:
        await self._counted(
            Q["finish_operation"], self.operation_id, self.fence, status, result, error_code, error_detail
        )

    @translated
    async def event(self, type: str, data: dict[str, Any]) -> None:
        """An event the runner announces (rollout.wave_started, rollout.aborted), fenced."""
        await self._fenced(Q["operation_event"], self.operation_id, self.fence, type, data)

    @translated
    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write outcomes (device.failed events with them), refused if the fence moved; the
        operation.progress event follows in the first part's transaction (should the other
        parts commit after it, the heartbeat's trailing event has their counts).

        Up to RECORD_SPLIT_AT outcomes are one statement in one transaction. More are split
        into RECORD_PARTS parts written at once, each in its own fenced transaction:
        outcomes are per device, so a crash between the parts' commits leaves some devices
        unrecorded, as a crash before the write would leave them all, and the resumed run
        settles them the same way."""
        await write_in_parts(outcomes, lambda part, index: self._record(part, progress=index == 0),
                             split_above=RECORD_SPLIT_AT, parts=RECORD_PARTS)

    async def _record(self, outcomes: Sequence[Outcome], *, progress: bool) -> None:
        columns = (
            [o.device_id for o in outcomes], [o.state for o in outcomes],
            [o.step for o in outcomes], [o.code for o in outcomes],
            [o.detail for o in outcomes], [o.attempts for o in outcomes],
            [_json(o.data) for o in outcomes], [o.seq for o in outcomes],
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await self._counted(Q["upsert_outcomes"], self.operation_id, self.fence, *columns, conn=conn)
            if progress:
                await conn.execute(Q["progress_event"], self.operation_id, PROGRESS_EVERY_S)

    @translated
    async def outcomes(self) -> list[Outcome]:
        rows = await self.pool.fetch(Q["load_outcomes"], self.operation_id)
        return [Outcome.from_row(r) for r in rows]

    async def _fenced(self, query: str, *args: Any, conn: asyncpg.Connection | None = None) -> None:
        status = await (conn or self.pool).execute(query, *args)
        if status.endswith(" 0"):
            raise StaleLeaseError(f"lease on operation {self.operation_id} was lost")

    async def _counted(self, query: str, *args: Any, conn: asyncpg.Connection | None = None) -> None:
        """A fenced statement that returns the rows it changed (it writes events beside them)."""
        if not await (conn or self.pool).fetchval(query, *args):
            raise StaleLeaseError(f"lease on operation {self.operation_id} was lost")


def _json(data: dict[str, Any]) -> str:
    """An outcome's notes as JSON text: orjson, several times faster than json.dumps on
    the 10,000 outcomes of a large step (27 -> 8 ms)."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
