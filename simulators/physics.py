"""How simulated devices draw or deliver power over time. Pure functions of plain data.

Power follows its target along a ``PowerPath``: immediately (``ramp_s == 0``,
the default), linearly over ``ramp_s``, or first order (time constant
``ramp_s / 3``, so 95 % after ``ramp_s``). A restore (a load's setpoint rising
back to 100 %) adds a cold-load-pickup surge of ``surge_factor`` times the
restored power, decaying as ``exp(-t / surge_decay_s)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_NOISE_FRACTION = 0.01
DEFAULT_SURGE_DECAY_S = 5.0
RAMP_SHAPES = ("linear", "first_order")
FIRST_ORDER_TIME_CONSTANTS = 3.0  # ramp_s spans three time constants (95 %)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class PowerPath:
    """Power moving from ``start_kw`` to ``target_kw`` since ``started_at``, plus a decaying surge."""

    start_kw: float
    target_kw: float
    started_at: float
    surge_kw: float = 0.0

    @classmethod
    def steady(cls, kw: float, *, at: float) -> PowerPath:
        return cls(kw, kw, at)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPhysics:
    """Ramp, surge and noise parameters. The defaults keep power immediate and surge-free."""

    noise_fraction: float = DEFAULT_NOISE_FRACTION
    ramp_s: float = 0.0
    ramp_shape: str = "linear"
    surge_factor: float = 0.0
    surge_decay_s: float = DEFAULT_SURGE_DECAY_S

    def __post_init__(self) -> None:
        if not 0 <= self.noise_fraction < 1:
            raise ValueError(f"noise_fraction must be in [0, 1), got {self.noise_fraction}")
        if not (math.isfinite(self.ramp_s) and self.ramp_s >= 0):
            raise ValueError(f"ramp_s must be a finite number >= 0, got {self.ramp_s}")
        if self.ramp_shape not in RAMP_SHAPES:
            raise ValueError(f"ramp_shape must be one of {RAMP_SHAPES}, got {self.ramp_shape!r}")
        if not (math.isfinite(self.surge_factor) and self.surge_factor >= 0):
            raise ValueError(f"surge_factor must be a finite number >= 0, got {self.surge_factor}")
        if not (math.isfinite(self.surge_decay_s) and self.surge_decay_s > 0):
            raise ValueError(f"surge_decay_s must be a finite number > 0, got {self.surge_decay_s}")

    def power_kw(self, path: PowerPath, *, now: float) -> float:
        """Noise-free power on ``path`` at ``now``."""
        elapsed = max(0.0, now - path.started_at)
        surge = path.surge_kw * math.exp(-elapsed / self.surge_decay_s) if path.surge_kw else 0.0
        return self._ramped(path, elapsed) + surge

    def retarget(self, path: PowerPath, *, target_kw: float, at: float, restore: bool = False) -> PowerPath:
        """The path after the target changes at ``at``; power stays continuous."""
        start = self.power_kw(path, now=at)
        surge = self.surge_factor * max(0.0, target_kw - start) if restore else 0.0
        return PowerPath(start, target_kw, at, surge)

    def noisy(self, kw: float, *, seed: int, sample: int) -> float:
        """``kw`` times (1 ± noise_fraction), repeatable for (seed, sample)."""
        return kw * (1 + self.noise_fraction * (2 * unit_noise(seed=seed, sample=sample) - 1))

    def _ramped(self, path: PowerPath, elapsed: float) -> float:
        if self.ramp_s == 0 or path.start_kw == path.target_kw:
            return path.target_kw
        if self.ramp_shape == "linear":
            progress = min(1.0, elapsed / self.ramp_s)
        else:
            progress = 1 - math.exp(-elapsed * FIRST_ORDER_TIME_CONSTANTS / self.ramp_s)
        return path.start_kw + (path.target_kw - path.start_kw) * progress


def unit_noise(*, seed: int, sample: int) -> float:
    """A repeatable pseudo-random number in [0, 1) for (seed, sample), without RNG state."""
    mixed = (seed * 0x9E3779B97F4A7C15 + sample * 0xD1B54A32D192ED03 + 1) & _MASK64
    mixed = ((mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((mixed ^ (mixed >> 31)) >> 11) / float(1 << 53)
