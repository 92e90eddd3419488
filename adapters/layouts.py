"""Resolved layouts of the units behind one gateway: SunSpec discovery runs once per unit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .profile import Profile

Discover = Callable[[], Awaitable[Profile]]

# Units of one model and firmware show the same layout: each distinct layout is kept
# once per process and shared, so a shard's memory grows by a reference per unit,
# not by a copy of the map. Bounded: past the cap a layout is simply not shared.
MAX_SHARED_LAYOUTS = 1024
_shared: dict[Profile, Profile] = {}


def shared_layout(layout: Profile) -> Profile:
    """The process's copy of a layout equal to `layout` (it becomes that copy if new)."""
    if (found := _shared.get(layout)) is not None:
        return found
    if len(_shared) < MAX_SHARED_LAYOUTS:
        _shared[layout] = layout
    return layout


class LayoutCache:
    """Static profiles resolved per (unit id, profile name). Concurrent callers share one discovery."""

    def __init__(self) -> None:
        self._layouts: dict[tuple[int, str], Profile] = {}
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}

    async def get(self, *, unit_id: int, profile: Profile, discover: Discover) -> Profile:
        key = (unit_id, profile.name)
        if (layout := self._layouts.get(key)) is not None:
            return layout
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._layouts:
                self._layouts[key] = shared_layout(await discover())
        return self._layouts[key]

    def forget(self, *, unit_id: int) -> None:
        """Drop what was discovered about a unit (it was replaced or re-mapped)."""
        for key in [key for key in self._layouts if key[0] == unit_id]:
            del self._layouts[key]

    def __len__(self) -> int:
        return len(self._layouts)
