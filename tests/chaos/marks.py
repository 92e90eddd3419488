"""What the devices and the database held at a kill, once every process of the dead server is gone.

Device counts come from the simulator; outcomes come from the database, which the dead
server can no longer change: they say what gridjobs had *recorded* when it died.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import time
from dataclasses import dataclass
from uuid import UUID

from gridjobs.records import Outcome
from gridjobs.store.database import create_pool
from gridjobs.store.operations import get_operation, list_outcomes
from simulators import Fleet

OUTCOMES_PAGE = 100_000


@dataclass(frozen=True)
class DeviceMark:
    writes: int  # length of the device's write log
    timer_releases: int
    fw_bytes: int = 0
    fw_activations: int = 0


@dataclass(frozen=True)
class KillMark:
    devices: Mapping[str, DeviceMark]
    outcomes: Mapping[str, Outcome]  # device id -> its outcome in the operation that holds it

    def device(self, device_id: str) -> DeviceMark:
        return self.devices[device_id]


def device_marks(fleet: Fleet) -> dict[str, DeviceMark]:
    return {d.id: DeviceMark(writes=len(d.write_log), timer_releases=d.counters.timer_releases,
                             fw_bytes=getattr(d.counters, "fw_bytes_received", 0),
                             fw_activations=getattr(d.counters, "fw_activations", 0))
            for d in fleet.devices}


async def recorded_outcomes(db_url: str, operation_ids: Iterable[str]) -> dict[str, Outcome]:
    """Every device outcome the operations had recorded (devices are in one operation each)."""
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        found: dict[str, Outcome] = {}
        for op_id in operation_ids:
            for outcome in await list_outcomes(pool, UUID(op_id), after_seq=None, limit=OUTCOMES_PAGE):
                found[outcome.device_id] = outcome
        return found
    finally:
        await pool.close()


async def mark_kill(fleet: Fleet, db_url: str, operation_ids: Iterable[str]) -> KillMark:
    return KillMark(devices=device_marks(fleet), outcomes=await recorded_outcomes(db_url, operation_ids))


async def hold_ends(db_url: str, operation_ids: Iterable[str]) -> dict[str, float]:
    """When each device's hold ended (its operation's checkpointed `hold_until`, a wall-clock
    time), on the simulated devices' clock (this process's monotonic clock)."""
    offset = time.time() - time.monotonic()
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        ends: dict[str, float] = {}
        for op_id in operation_ids:
            until = (await get_operation(pool, UUID(op_id))).checkpoint.get("hold_until")
            if until is not None:
                outcomes = await list_outcomes(pool, UUID(op_id), after_seq=None, limit=OUTCOMES_PAGE)
                ends.update((o.device_id, float(until) - offset) for o in outcomes)
        return ends
    finally:
        await pool.close()
