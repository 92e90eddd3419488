"""Pure planning for DER curtailment: one uniform WMaxLimPct, pro rata.

Every eligible inverter gets the same limit, as a percentage of its WMax, the
highest whole percentage that still takes off the reduction asked for.
Inverters already producing below that limit are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Inverter:
    device_id: str
    output_kw: float
    max_kw: float
    protected: bool = False


@dataclass(frozen=True)
class Limit:
    device_id: str
    pct: int
    expected_after_kw: float
    expected_kw: float  # reduction


@dataclass(frozen=True)
class DerPlan:
    pct: int | None
    limits: tuple[Limit, ...]
    expected_kw: float
    shortfall_kw: float


def eligible(inverters: Iterable[Inverter]) -> list[Inverter]:
    return sorted((i for i in inverters if not i.protected and i.output_kw > 0 and i.max_kw > 0),
                  key=lambda i: i.device_id)


def _output_at(inverters: list[Inverter], pct: int) -> float:
    return sum(min(i.output_kw, i.max_kw * pct / 100) for i in inverters)


def plan_limit(inverters: Iterable[Inverter], *, reduce_kw: float) -> DerPlan:
    pool = eligible(inverters)
    if reduce_kw <= 0 or not pool:
        return DerPlan(None, (), 0.0, max(0.0, reduce_kw))
    allowed = sum(i.output_kw for i in pool) - reduce_kw
    pct = next((p for p in range(100, -1, -1) if _output_at(pool, p) <= allowed), 0)
    limits = tuple(
        Limit(i.device_id, pct, i.max_kw * pct / 100, i.output_kw - i.max_kw * pct / 100)
        for i in pool if i.output_kw > i.max_kw * pct / 100
    )
    expected = sum(limit.expected_kw for limit in limits)
    return DerPlan(pct, limits, expected, max(0.0, reduce_kw - expected))
