"""Pure gating of batch work (rollouts, rotations): batches, and when to stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


def batches(device_ids: Sequence[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(device_ids[i:i + size]) for i in range(0, len(device_ids), size)]


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
