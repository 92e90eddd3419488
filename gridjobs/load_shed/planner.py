"""Pure planning for load shedding: plain data in, a decision out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Candidate:
    device_id: str
    shed_priority: int
    protected: bool
    measured_kw: float


@dataclass(frozen=True)
class ShedPlan:
    chosen: tuple[Candidate, ...]
    expected_kw: float
    shortfall_kw: float

    @property
    def device_ids(self) -> tuple[str, ...]:
        return tuple(c.device_id for c in self.chosen)


def shed_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Non-protected devices, by shed_priority (1 first), largest kW first, then id."""
    eligible = [c for c in candidates if not c.protected and c.measured_kw > 0]
    return sorted(eligible, key=lambda c: (c.shed_priority, -c.measured_kw, c.device_id))


def plan_shed(
    candidates: Iterable[Candidate], *, target_kw: float, already_kw: float = 0.0,
    exclude: frozenset[str] = frozenset(),
) -> ShedPlan:
    """Choose devices until the expected reduction reaches what is still missing."""
    needed = target_kw - already_kw
    chosen: list[Candidate] = []
    expected = 0.0
    for candidate in shed_order(c for c in candidates if c.device_id not in exclude):
        if expected >= needed:
            break
        chosen.append(candidate)
        expected += candidate.measured_kw
    return ShedPlan(tuple(chosen), expected, max(0.0, needed - expected))
