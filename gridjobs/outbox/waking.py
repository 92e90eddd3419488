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
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def nap(self, timeout_s: float) -> None:
        """Until woken or `timeout_s` passes; either way the wake is consumed."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            pass
        self._event.clear()
