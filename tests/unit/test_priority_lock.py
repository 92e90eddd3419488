"""Waiters for a device are served by priority, then in arrival order."""

from __future__ import annotations

import asyncio

from actors.priority_lock import HIGH, LOW, PriorityLock


async def test_high_priority_waiter_goes_before_earlier_low_ones():
    lock, order = PriorityLock(), []

    async def user(name, priority):
        async with lock.hold(priority):
            order.append(name)
            await asyncio.sleep(0)

    async with lock.hold(LOW):
        tasks = [asyncio.create_task(user(f"chunk{i}", LOW)) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(user("shed", HIGH)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["shed", "chunk0", "chunk1", "chunk2"]
    assert not lock.locked


async def test_cancelled_waiter_does_not_keep_the_lock():
    lock = PriorityLock()
    async with lock.hold():
        waiter = asyncio.create_task(_take(lock))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert not lock.locked
    async with lock.hold():
        assert lock.locked


async def _take(lock):
    async with lock.hold():
        pass
