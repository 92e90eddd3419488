"""QueueRefresher: one background task that reads the queue and feeds the gate and gauges.

Every `every_s` (after the previous read finished) it takes a reading of the
queue (`store.queue.shared_queue_snapshot`) on a connection of its own, so it never
waits behind the intake for a pooled one, bounded by `timeout_s`: the one another
API process made, if it is younger than `every_s` or another process is making the
next one, else a new one it shares. A failed
read keeps the last depth; the gate's own admissions since then still count, so this
process errs on the side of refusing. Whoever opens it (the runtime) stops it.

A shared reading began before this process asked for it: the admissions this process
made since it began may be missing from it, so they must stay counted. Each refresh
marks what the gate had admitted when it started (`QueueGate.reading_began`); a
reading is applied with the newest mark made before it began (an older mark keeps
more counted: never fewer than are missing), and one that began before the reading
last applied is not applied at all.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque

import asyncpg
import structlog

from gridjobs import background
from gridjobs.admission.gate import QueueGate
from gridjobs.admission.lanes import Lane
from gridjobs.admission.reading import by_band, lane_reading, oldest_queued_s
from gridjobs.errors import StoreError
from gridjobs.metrics import (
    ADMISSION_BOUND, ADMISSION_DEPTH, ADMISSION_DRAIN, QUEUE_OLDEST, QUEUE_OPERATIONS,
    QUEUE_REFRESH_FAILURES,
)
from gridjobs.store.database import connect
from gridjobs.store.queue import QueueSnapshot, shared_queue_snapshot

REFRESH_TIMEOUT_S = 2.0
CLOSE_TIMEOUT_S = 2.0
# Marks kept (one per refresh): a shared reading is at most `every_s` old, so a few do;
# should none be old enough, the reading is applied keeping every admission counted.
MARKS = 8

log = structlog.get_logger("gridjobs.admission")


class QueueRefresher:
    def __init__(self, dsn: str, gate: QueueGate, *, every_s: float, window_s: float,
                 timeout_s: float = REFRESH_TIMEOUT_S) -> None:
        self.dsn, self.gate = dsn, gate
        self.every_s, self.window_s, self.timeout_s = every_s, window_s, timeout_s
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None
        self._failing = False
        # (loop time, gate.reading_began() then), since the reading last applied began
        self._marks: deque[tuple[float, Counter[Lane]]] = deque(maxlen=MARKS)
        self._applied_at = float("-inf")   # loop time at which the reading last applied began
        self.shared = 0                    # readings taken from another process (tests)

    async def start(self) -> None:
        """Read once (a failure is logged, not raised), then keep reading in the background."""
        await self.refresh()
        self._task = background.start(self._loop(), name="gridjobs-queue-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            await background.stop(self._task)
            self._task = None
        await self._close()

    async def refresh(self) -> bool:
        asked = asyncio.get_running_loop().time()
        self._marks.append((asked, self.gate.reading_began()))
        try:
            async with asyncio.timeout(self.timeout_s):
                reading = await shared_queue_snapshot(await self._connection(), window_s=self.window_s,
                                                      max_age_s=self.every_s)
        except (StoreError, TimeoutError) as exc:
            await self._failed(exc)
            return False
        if self._failing:
            log.info("queue_refresh_recovered")
            self._failing = False
        self.shared += reading.age_s > 0
        taken = asked - reading.age_s   # when the reading began, at the latest, on this clock
        if taken <= self._applied_at:   # not newer than the one the gate has
            return True
        marked, began = self._mark_before(taken)
        self.gate.apply(lane_reading(reading.snapshot, emergency_priority=self.gate.emergency_priority),
                        began)
        self._applied_at = taken
        # The gate now counts from `began`: so do the later marks.
        self._marks = deque(((at, counted - began) for at, counted in self._marks if at > marked),
                            maxlen=MARKS)
        publish(reading.snapshot, self.gate)
        return True

    def _mark_before(self, taken: float) -> tuple[float, Counter[Lane]]:
        """The newest mark made by `taken`; none: nothing admitted (so every admission
        since the last reading stays counted)."""
        made = [(at, counted) for at, counted in self._marks if at <= taken]
        return made[-1] if made else (float("-inf"), Counter())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await self.refresh()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self.dsn)
        return self._conn

    async def _failed(self, exc: Exception) -> None:
        QUEUE_REFRESH_FAILURES.inc()
        if not self._failing:  # once per streak, not every half second
            log.warning("queue_refresh_failed", error=f"{type(exc).__name__}: {exc}")
            self._failing = True
        await self._close()  # a read cut off by the timeout leaves the connection unusable

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=CLOSE_TIMEOUT_S)
        except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError, TimeoutError):
            conn.terminate()


def publish(snapshot: QueueSnapshot, gate: QueueGate) -> None:
    """Set the queue and admission gauges from one reading (no await: a scrape sees all or none)."""
    emergency = gate.emergency_priority
    QUEUE_OPERATIONS.clear()
    for (kind, status, band), count in by_band(snapshot, emergency_priority=emergency).items():
        QUEUE_OPERATIONS.labels(kind, status.value, band.value).set(count)
    oldest = oldest_queued_s(snapshot, emergency_priority=emergency)
    for lane in Lane:
        QUEUE_OLDEST.labels(lane.value).set(oldest[lane])
        ADMISSION_DEPTH.labels(lane.value).set(gate.depth(lane))
        ADMISSION_BOUND.labels(lane.value).set(gate.bounds.of(lane))
        ADMISSION_DRAIN.labels(lane.value).set(gate.drain_per_s(lane) or 0.0)
