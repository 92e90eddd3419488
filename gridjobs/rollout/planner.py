"""Pure rollout decisions: which devices go in which wave."""

from __future__ import annotations

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
