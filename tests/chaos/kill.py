"""Kill points drawn from a seeded RNG, and carrying one out.

A kill point is either a time after the server came up (`time`) or the instant a device
applies its n-th write since the point was armed (`write`). A write kill signals the
server's whole process group from inside the device's write, before the device answers:
the command is applied and its answer never arrives.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from simulators import Fleet, WriteRecord
from tests.acceptance.server import ServerProcess

TIME, WRITE = "time", "write"
MIN_DELAY_S = 0.3
POLL_S = 0.2
GONE_TIMEOUT_S = 30.0
DRAIN_S = 0.3


@dataclass(frozen=True)
class KillPoint:
    mode: str
    delay_s: float = 0.0
    nth_write: int = 0

    def describe(self) -> str:
        if self.mode == TIME:
            return f"at {self.delay_s:.2f} s"
        return f"at a device's write #{self.nth_write}"


def draw(rng: random.Random, mode: str, *, horizon_s: float, writes_per_device: int,
         resumed: bool = False) -> KillPoint:
    """A kill point; after a restart (`resumed`) less work is left, so it is drawn from the first half."""
    share = 0.5 if resumed else 1.0
    if mode == TIME:
        return KillPoint(TIME, delay_s=round(rng.uniform(MIN_DELAY_S, max(MIN_DELAY_S, horizon_s * share)), 2))
    return KillPoint(WRITE, nth_write=rng.randint(1, max(1, int(writes_per_device * share))))


def modes(rng: random.Random, count: int) -> list[str]:
    """Both modes in turn, starting with a drawn one."""
    first = rng.randrange(2)
    return [(TIME, WRITE)[(first + i) % 2] for i in range(count)]


async def kill_at(point: KillPoint, server: ServerProcess, fleet: Fleet,
                  finished: Callable[[], Awaitable[bool]]) -> str | None:
    """SIGKILL the server at `point`; what happened, or None if the operations finished first."""
    if point.mode == TIME:
        what = await _after_delay(point.delay_s, server, finished)
    else:
        what = await _at_write(point.nth_write, server, fleet, finished)
    if what is not None:
        server.kill9()  # reap it and sweep its group (a write kill has already signalled it)
        await _group_gone(server.proc.pid)
        await asyncio.sleep(DRAIN_S)  # the fleet handles what the dead processes had sent
    return what


async def _after_delay(delay_s: float, server: ServerProcess,
                       finished: Callable[[], Awaitable[bool]]) -> str | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay_s
    while (left := deadline - loop.time()) > 0:
        if await finished():
            return None
        await asyncio.sleep(min(POLL_S, left))
    server.proc.kill()
    return f"killed at {delay_s:.2f} s"


async def _at_write(nth: int, server: ServerProcess, fleet: Fleet,
                    finished: Callable[[], Awaitable[bool]]) -> str | None:
    fired: list[str] = []
    counts: Counter[str] = Counter()

    def on_write(device_id: str, record: WriteRecord) -> None:
        counts[device_id] += 1
        if counts[device_id] == nth and not fired:
            server.kill_group_now()
            fired.append(f"killed as {device_id} applied write #{nth} ({', '.join(record.roles)})")

    stop = fleet.watch_writes(on_write)
    try:
        while not fired:
            if await finished():
                return None
            await asyncio.sleep(POLL_S)
    finally:
        stop()
    return fired[0]


def _alive_in_group(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


async def _group_gone(pgid: int) -> None:
    """Wait until no process of the dead server's group runs: nothing of it can still write."""
    async with asyncio.timeout(GONE_TIMEOUT_S):
        while _alive_in_group(pgid):
            await asyncio.sleep(0.05)
