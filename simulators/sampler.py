"""Feeder power sampled on a fixed interval, so that short peaks between reads are seen.

One task per fleet samples every feeder's noise-free power every ``interval_s``
and keeps the last ``window_s`` of samples; memory and work are bounded.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

DEFAULT_SAMPLE_INTERVAL_S = 0.05
DEFAULT_WINDOW_S = 600.0


class PoweredDevice(Protocol):
    def power_kw(self, now: float | None = None) -> float: ...


class FeederSampler:
    """Peak tracker for each feeder, fed by ``run()`` (or by explicit ``sample()`` calls)."""

    def __init__(
        self,
        *,
        feeders: Mapping[str, Sequence[PoweredDevice]],
        interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (0 < interval_s <= window_s):
            raise ValueError(f"need 0 < interval_s <= window_s, got {interval_s} and {window_s}")
        self.interval_s = interval_s
        self._feeders = {name: tuple(devices) for name, devices in feeders.items()}
        self._clock = clock
        self._samples: deque[tuple[float, dict[str, float]]] = deque(maxlen=math.ceil(window_s / interval_s))

    def sample(self) -> tuple[float, dict[str, float]]:
        now = self._clock()
        totals = {name: sum(device.power_kw(now) for device in devices) for name, devices in self._feeders.items()}
        self._samples.append((now, totals))
        return now, totals

    def peak_kw(self, feeder: str, *, since: float) -> float:
        """Highest sampled power on ``feeder`` from ``since`` (monotonic time) until now."""
        if feeder not in self._feeders:
            raise KeyError(feeder)
        self.sample()
        return max(totals[feeder] for at, totals in self._samples if at >= since)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)
