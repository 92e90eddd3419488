"""Group points into runs of contiguous registers, so one request covers each run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .profile import Point


@dataclass(frozen=True, slots=True)
class Span:
    """Points that sit back to back in the register space, in address order."""

    points: tuple[Point, ...]

    @property
    def address(self) -> int:
        return self.points[0].address

    @property
    def count(self) -> int:
        return self.points[-1].end - self.address


def contiguous_spans(points: Iterable[Point], *, max_registers: int) -> tuple[Span, ...]:
    """Split points (duplicates ignored) into spans of at most ``max_registers`` registers."""
    spans: list[Span] = []
    run: list[Point] = []
    for point in sorted(set(points), key=lambda point: point.address):
        if run and not _extends(run, point, max_registers):
            spans.append(Span(tuple(run)))
            run = []
        run.append(point)
    if run:
        spans.append(Span(tuple(run)))
    return tuple(spans)


def _extends(run: list[Point], point: Point, max_registers: int) -> bool:
    return point.address == run[-1].end and point.end - run[0].address <= max_registers
