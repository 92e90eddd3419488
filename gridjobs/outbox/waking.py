"""A wake-up a loop can sleep on: set by a NOTIFY (or a finished task), with the
poll interval as the backstop."""

from __future__ import annotations

import asyncio


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
