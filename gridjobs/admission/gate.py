"""QueueGate: the depth per lane this process admits against, without a query per request.

The depth is the last one read from Postgres (`apply`, from the refresher)
plus what this process admitted since that read began, committed or still
being written: `take` counts a submission in as soon as it is admitted, and
`settle` says whether it was committed. So one process never overshoots a
bound, however many submissions it has in flight; several processes
overshoot it by at most what the others admit within about two refresh
intervals (they share readings, each up to one interval old when taken:
admission/refresher.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from gridjobs.admission.decide import Bounds, Decision, admit
from gridjobs.admission.lanes import Lane, lane_of
from gridjobs.config import Settings


@dataclass(frozen=True)
class LaneReading:
    """One refresh: queued operations per lane, and operations claimed per second."""

    depth: Mapping[Lane, int]
    drain_per_s: Mapping[Lane, float | None]


class QueueGate:
    def __init__(self, *, bounds: Bounds, emergency_priority: int) -> None:
        self.bounds = bounds
        self.emergency_priority = emergency_priority
        self._read: dict[Lane, int] = {lane: 0 for lane in Lane}
        self._drain: dict[Lane, float | None] = {lane: None for lane in Lane}
        self._admitted: Counter[Lane] = Counter()   # committed since the last reading began
        self._pending: Counter[Lane] = Counter()    # admitted, not yet committed or given up
        self.refreshes = 0

    @classmethod
    def of(cls, settings: Settings) -> "QueueGate":
        return cls(bounds=Bounds(grid=settings.grid_queue_max, bulk=settings.bulk_queue_max),
                   emergency_priority=settings.emergency_priority)

    def lane(self, kind: str, priority: int) -> Lane:
        return lane_of(kind, priority, emergency_priority=self.emergency_priority)

    def depth(self, lane: Lane) -> int:
        return self._read[lane] + self._admitted[lane] + self._pending[lane]

    def drain_per_s(self, lane: Lane) -> float | None:
        return self._drain[lane]

    def check(self, kind: str, priority: int, *, reserved_slot: bool = False) -> Decision:
        lane = self.lane(kind, priority)
        return admit(lane, self.depth(lane), self.bounds, drain_per_s=self._drain[lane],
                     reserved_slot=reserved_slot)

    def take(self, kind: str, priority: int, *, reserved_slot: bool = False) -> Decision:
        """Decide; an admitted submission counts in the depth until it is `settle`d."""
        decision = self.check(kind, priority, reserved_slot=reserved_slot)
        if decision.admitted:
            self._pending[decision.lane] += 1
        return decision

    def settle(self, decision: Decision, *, committed: bool) -> None:
        """What became of a submission `take` admitted: a new row, or none."""
        self._pending[decision.lane] -= 1
        if committed:
            self.admitted(decision.lane)

    def admitted(self, lane: Lane) -> None:
        """An operation of `lane` was committed by this process."""
        self._admitted[lane] += 1

    def reading_began(self) -> Counter[Lane]:
        """Call before the query: what the coming reading will (at least) include."""
        return Counter(self._admitted)

    def apply(self, reading: LaneReading, began: Counter[Lane]) -> None:
        """Take a reading; admissions since `began` may be in it or not, and stay counted."""
        self._read = {lane: reading.depth.get(lane, 0) for lane in Lane}
        self._drain = {lane: reading.drain_per_s.get(lane) for lane in Lane}
        self._admitted = self._admitted - began
        self.refreshes += 1
