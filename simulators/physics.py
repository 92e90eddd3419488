"""How a controllable load draws power. Pure functions of the device state."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import DeviceSpec

DEFAULT_NOISE_FRACTION = 0.01
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPhysics:
    """measured_kw = rated_kw * load_factor * setpoint_pct / 100, times (1 ± noise_fraction)."""

    noise_fraction: float = DEFAULT_NOISE_FRACTION

    def __post_init__(self) -> None:
        if not 0 <= self.noise_fraction < 1:
            raise ValueError(f"noise_fraction must be in [0, 1), got {self.noise_fraction}")

    def measured_kw(self, spec: DeviceSpec, *, setpoint_pct: float, sample: int) -> float:
        """Power drawn at ``setpoint_pct``; ``sample`` numbers the reading, for repeatable noise."""
        noise = 1 + self.noise_fraction * (2 * unit_noise(seed=spec.noise_seed, sample=sample) - 1)
        return spec.rated_kw * spec.load_factor * setpoint_pct / 100 * noise


def unit_noise(*, seed: int, sample: int) -> float:
    """A repeatable pseudo-random number in [0, 1) for (seed, sample), without RNG state."""
    mixed = (seed * 0x9E3779B97F4A7C15 + sample * 0xD1B54A32D192ED03 + 1) & _MASK64
    mixed = ((mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((mixed ^ (mixed >> 31)) >> 11) / float(1 << 53)
