"""Lanes and priority bands: how a submission is classed for admission and metrics.

The grid lane is for emergencies: a load shed or DER curtailment at or above
the emergency priority. Everything else is bulk: firmware rollouts, key
rotations, and sheds or curtailments below the emergency priority (routine
work such as peak shaving, which can wait behind a backlog; a control room
that cannot wait marks its shed emergency).
"""

from __future__ import annotations

import enum

GRID_KINDS = frozenset({"load_shed", "der_curtailment"})


class Lane(enum.StrEnum):
    GRID = "grid"
    BULK = "bulk"


class Band(enum.StrEnum):
    """A priority band, for the queue metrics (priority itself would be 201 label values)."""

    EMERGENCY = "emergency"   # >= the emergency priority
    NORMAL = "normal"         # 0 up to the emergency priority
    LOW = "low"               # below 0


def band_of(priority: int, *, emergency_priority: int) -> Band:
    if priority >= emergency_priority:
        return Band.EMERGENCY
    return Band.NORMAL if priority >= 0 else Band.LOW


def lane_of(kind: str, priority: int, *, emergency_priority: int) -> Lane:
    if kind in GRID_KINDS and priority >= emergency_priority:
        return Lane.GRID
    return Lane.BULK
