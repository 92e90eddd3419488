"""From a queue snapshot to what admission and the queue gauges need (pure)."""

from __future__ import annotations

from collections import Counter

from gridjobs.admission.gate import LaneReading
from gridjobs.admission.lanes import Band, Lane, band_of, lane_of
from gridjobs.states import Status
from gridjobs.store.queue import QueueSnapshot


def lane_reading(snapshot: QueueSnapshot, *, emergency_priority: int) -> LaneReading:
    """Queued operations per lane, and operations claimed per second over the window."""
    queued: Counter[Lane] = Counter()
    claimed: Counter[Lane] = Counter()
    for g in snapshot.groups:
        if g.status is Status.QUEUED:
            queued[lane_of(g.kind, g.priority, emergency_priority=emergency_priority)] += g.operations
    for c in snapshot.claimed:
        claimed[lane_of(c.kind, c.priority, emergency_priority=emergency_priority)] += c.operations
    drain = {lane: claimed[lane] / snapshot.window_s if claimed[lane] else None for lane in Lane}
    return LaneReading(depth={lane: queued[lane] for lane in Lane}, drain_per_s=drain)


def oldest_queued_s(snapshot: QueueSnapshot, *, emergency_priority: int) -> dict[Lane, float]:
    """How long the oldest queued operation of each lane has waited (0 when none)."""
    oldest = {lane: 0.0 for lane in Lane}
    for g in snapshot.groups:
        if g.status is Status.QUEUED and g.oldest_queued_s is not None:
            lane = lane_of(g.kind, g.priority, emergency_priority=emergency_priority)
            oldest[lane] = max(oldest[lane], g.oldest_queued_s)
    return oldest


def by_band(snapshot: QueueSnapshot, *,
            emergency_priority: int) -> dict[tuple[str, Status, Band], int]:
    """Active operations by kind, status and priority band."""
    counts: Counter[tuple[str, Status, Band]] = Counter()
    for g in snapshot.groups:
        counts[g.kind, g.status, band_of(g.priority, emergency_priority=emergency_priority)] += g.operations
    return dict(counts)
