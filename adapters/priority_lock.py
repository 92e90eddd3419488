"""PriorityLock: an asyncio lock whose waiters are served by priority, then in turn.

Lower numbers go first; waiters of one priority are served in the order they
came. The lock passes straight from its holder to the next waiter, so a
waiter that arrives later cannot slip in between. Two users: a shard's lock per
device (actors.priority_lock: a shed waits at most one firmware chunk) and a
gateway session's wire (adapters.session: a write's read-back goes before new
writes).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from types import TracebackType

NORMAL = 5


class PriorityLock:
    __slots__ = ("_held", "_waiters", "_order")   # one per device a shard has driven, one per gateway

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def locked(self) -> bool:
        return self._held

    def hold(self, priority: int = NORMAL) -> "_Hold":
        """`async with lock.hold(priority):` the lock is this task's until the block ends."""
        return _Hold(self, priority)

    async def _acquire(self, priority: int) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over just as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiters:
            _, _, waiter = heapq.heappop(self._waiters)
            if not waiter.done():
                waiter.set_result(None)  # ownership passes straight to the waiter
                return
        self._held = False


class _Hold:
    """The context of `PriorityLock.hold`: a plain class, not a generator-based context
    manager, as it is entered once per device per step and once per Modbus request
    (a third of the cost)."""

    __slots__ = ("_lock", "_priority")

    def __init__(self, lock: PriorityLock, priority: int) -> None:
        self._lock, self._priority = lock, priority

    async def __aenter__(self) -> None:
        await self._lock._acquire(self._priority)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._lock._release()
