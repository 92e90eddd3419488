"""Pure rollout decisions: which devices go in which wave, and when to stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from gridjobs.rollout.params import wave_size


def plan_waves(device_ids: Sequence[str], waves: Sequence[str | int]) -> list[tuple[str, ...]]:
    """Split devices (in order) into waves from cumulative sizes; the canary has >= 1."""
    ordered, groups, done = list(device_ids), [], 0
    for wave in waves:
        upto = max(1, wave_size(wave, len(ordered))) if ordered else 0
        if upto > done:
            groups.append(tuple(ordered[done:upto]))
            done = upto
    if done < len(ordered):  # waves that stop short of 100 % still end the rollout
        groups.append(tuple(ordered[done:]))
    return groups


@dataclass(frozen=True)
class Tally:
    executed: int   # devices that reached a verdict (succeeded or failed; not skipped)
    failed: int

    @property
    def failure_pct(self) -> float:
        return 100.0 * self.failed / self.executed if self.executed else 0.0


def should_abort(tally: Tally, *, threshold_pct: float, min_executed: int) -> bool:
    """Abort once enough devices ran and their failure share is over the threshold."""
    return tally.executed >= min_executed and tally.failure_pct > threshold_pct


def batches(device_ids: Sequence[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(device_ids[i:i + size]) for i in range(0, len(device_ids), size)]
