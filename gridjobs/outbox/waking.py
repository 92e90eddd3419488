"""A wake-up a loop can sleep on: set by a NOTIFY (or a finished task), with the
poll interval as the backstop.

Events held back by an older transaction in flight send no NOTIFY when that
transaction ends (it may write none), so a reader that saw some held back
looks again soon: `Backoff` starts at HELD_BACK_FIRST_S and doubles up to the
poll interval.
"""

from __future__ import annotations

import asyncio


HELD_BACK_FIRST_S = 0.01
# Under a stream of NOTIFYs (one per group commit of submissions), a woken loop passes
# at most once per COALESCE_S: each pass reads everything since the last, so the passes
# it skips cost nothing but this much latency; a lone wake still goes at once.
COALESCE_S = 0.05


class Backoff:
    def __init__(self, ceiling_s: float) -> None:
        self.ceiling_s = ceiling_s
        self._next = HELD_BACK_FIRST_S

    def pause(self, held_back: bool) -> float:
        """How long to nap: short and growing while events are held back, else the poll."""
        if not held_back:
            self._next = HELD_BACK_FIRST_S
            return self.ceiling_s
        pause, self._next = self._next, min(self._next * 2, self.ceiling_s)
        return pause


class Wake:
    def __init__(self, coalesce_s: float = COALESCE_S) -> None:
        self._event = asyncio.Event()
        self._coalesce_s = coalesce_s
        self._last = float("-inf")   # when the last nap ended (loop time)

    def set(self) -> None:
        self._event.set()

    async def nap(self, timeout_s: float) -> None:
        """Until woken or `timeout_s` passes; either way the wake is consumed. A wake
        within `coalesce_s` of the last nap's end waits out the rest of that interval,
        so that the wakes arriving meanwhile are one pass."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
            rest = self._last + self._coalesce_s - loop.time()
            if rest > 0:
                await asyncio.sleep(rest)
        except TimeoutError:
            pass
        self._event.clear()
        self._last = loop.time()
