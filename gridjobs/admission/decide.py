"""The admission decision: pure, from a lane's depth, its bound and its drain rate.

A lane admits while its depth (queued operations, as last read from Postgres
plus what this process admitted since) is below its bound. A refusal says
when to retry: the time the lane needs to drain below its bound at the
measured rate, `ceil(excess / rate)`, clamped to [1, 300] s; with no measured
rate, a conservative minute.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from gridjobs.admission.lanes import Lane

RETRY_AFTER_MIN_S = 1
RETRY_AFTER_MAX_S = 300
RETRY_AFTER_UNMEASURED_S = 60   # nothing has left the queue lately: do not invite a stampede
RESERVE_RETRY_AFTER_S = 1       # a bulk submission that only found a reserved in-flight slot


class Reason(enum.StrEnum):
    QUEUE_FULL = "queue_full"
    RESERVE = "reserve"        # the in-flight reserve is for the grid lane
    INFLIGHT = "inflight"      # the in-flight bound (decided by the middleware, not here)


@dataclass(frozen=True)
class Bounds:
    grid: int
    bulk: int

    def of(self, lane: Lane) -> int:
        return self.grid if lane is Lane.GRID else self.bulk


@dataclass(frozen=True)
class Decision:
    lane: Lane
    depth: int
    bound: int
    refused: Reason | None = None
    retry_after_s: int | None = None

    @property
    def admitted(self) -> bool:
        return self.refused is None


def admit(lane: Lane, depth: int, bounds: Bounds, *, drain_per_s: float | None = None,
          reserved_slot: bool = False) -> Decision:
    """Admit into `lane` at `depth`, or refuse with a Retry-After.

    `reserved_slot`: the request holds one of the in-flight slots kept for the
    grid lane, so a bulk submission is refused whatever its queue looks like.
    """
    bound = bounds.of(lane)
    if reserved_slot and lane is Lane.BULK:
        return Decision(lane, depth, bound, Reason.RESERVE, RESERVE_RETRY_AFTER_S)
    if depth < bound:
        return Decision(lane, depth, bound)
    return Decision(lane, depth, bound, Reason.QUEUE_FULL,
                    retry_after_s(depth - bound + 1, drain_per_s))


def retry_after_s(excess: int, drain_per_s: float | None) -> int:
    """Seconds until `excess` operations have left the queue at `drain_per_s`."""
    if not drain_per_s or drain_per_s <= 0:
        return RETRY_AFTER_UNMEASURED_S
    wait = math.ceil(excess / drain_per_s)
    return max(RETRY_AFTER_MIN_S, min(RETRY_AFTER_MAX_S, wait))
