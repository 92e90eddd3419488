"""Splitting a restore into stages (pure)."""

from __future__ import annotations

from typing import Sequence


def restore_stages(device_ids: Sequence[str], stages: int) -> list[tuple[str, ...]]:
    """Split devices into `stages` groups of near-equal size, order kept."""
    if stages < 1:
        raise ValueError(f"stages must be >= 1, got {stages}")
    count = min(stages, len(device_ids)) or 1
    size, extra = divmod(len(device_ids), count)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        groups.append(tuple(device_ids[start:end]))
        start = end
    return [g for g in groups if g]
