"""Group points into runs of registers, so one request covers each run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from .point import Point


@dataclass(frozen=True, slots=True)
class Span:
    """Points in address order, covered by one request from ``address`` for ``count`` registers."""

    points: tuple[Point, ...]

    @property
    def address(self) -> int:
        return self.points[0].address

    @property
    def count(self) -> int:
        return max(point.end for point in self.points) - self.address

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(point.role for point in self.points)


# Distinct point groups a shard's requests ask for: a few per profile and step.
SPAN_CACHE_SIZE = 4096


@lru_cache(maxsize=SPAN_CACHE_SIZE)
def spans_of(points: tuple[Point, ...], *, max_registers: int, max_gap: int = 0) -> tuple[Span, ...]:
    """`contiguous_spans`, remembered: every request of a large batch asks for the same few
    groups of points, and sorting and hashing them each time is most of what framing costs."""
    return contiguous_spans(points, max_registers=max_registers, max_gap=max_gap)


def contiguous_spans(points: Iterable[Point], *, max_registers: int, max_gap: int = 0) -> tuple[Span, ...]:
    """Split points (duplicates ignored) into spans of at most ``max_registers`` registers.

    A span may bridge up to ``max_gap`` registers that belong to no point; only
    profiles whose whole map is readable (SunSpec) allow a gap.
    """
    spans: list[Span] = []
    run: list[Point] = []
    for point in sorted(set(points), key=lambda point: (point.address, point.end)):
        if run and not _extends(run, point, max_registers, max_gap):
            spans.append(Span(tuple(run)))
            run = []
        run.append(point)
    if run:
        spans.append(Span(tuple(run)))
    return tuple(spans)


def _extends(run: list[Point], point: Point, max_registers: int, max_gap: int) -> bool:
    run_end = max(member.end for member in run)
    return point.address <= run_end + max_gap and max(run_end, point.end) - run[0].address <= max_registers
