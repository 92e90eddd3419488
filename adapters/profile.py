"""Device profiles: a register map as data, shared by adapters and simulators.

A profile is a JSON file in ``adapters/profiles``; ``profile_file`` turns the
file into these records and says which file, point and problem when it cannot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .datatypes import DATA_TYPES, WORD_ORDERS, DataType
from .errors import ProfileError, UnknownRoleError

REGISTER_SPACE = 0x10000


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One value in a device's holding registers. ``raw * scale`` is the engineering value."""

    name: str
    role: str
    address: int
    type: str
    unit: str
    writable: bool
    word_order: str = "big"
    scale: float = 1.0
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if problem := _point_problem(self):
            raise ProfileError(f"point {self.name!r}: {problem}")

    @property
    def data_type(self) -> DataType:
        return DATA_TYPES[self.type]

    @property
    def register_count(self) -> int:
        return self.data_type.register_count

    @property
    def end(self) -> int:
        """First register address after this point."""
        return self.address + self.register_count

    def describe_registers(self) -> str:
        return f"registers {self.address}..{self.end - 1}"


def _point_problem(point: Point) -> str | None:
    if not point.name or not point.role:
        return "name and role must be non-empty"
    if point.type not in DATA_TYPES:
        return f"unknown type {point.type!r} (known: {', '.join(DATA_TYPES)})"
    if point.word_order not in WORD_ORDERS:
        return f"unknown word_order {point.word_order!r} (known: big, little)"
    if not math.isfinite(point.scale) or point.scale <= 0:
        return f"scale must be a finite number > 0, got {point.scale!r}"
    if not 0 <= point.address <= REGISTER_SPACE - point.register_count:
        return f"address {point.address} does not fit a {point.type} in 0..{REGISTER_SPACE - 1}"
    if None not in (point.minimum, point.maximum) and point.minimum > point.maximum:
        return f"minimum {point.minimum} is greater than maximum {point.maximum}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A named, validated register map. Look points up by role."""

    name: str
    points: tuple[Point, ...]
    source: str = "<memory>"
    _by_role: Mapping[str, Point] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.points:
            raise ProfileError(f"{self.source}: profile {self.name!r} has no points")
        _reject_duplicates(self.source, self.points)
        _reject_overlaps(self.source, self.points)
        # A plain dict (not a mappingproxy) so that profiles pickle across processes.
        object.__setattr__(self, "_by_role", {point.role: point for point in self.points})

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._by_role)

    def point(self, role: str) -> Point:
        try:
            return self._by_role[role]
        except KeyError:
            raise UnknownRoleError(
                f"profile {self.name!r} has no point with role {role!r}"
            ) from None


def _reject_duplicates(source: str, points: tuple[Point, ...]) -> None:
    for attribute in ("name", "role"):
        seen: set[str] = set()
        for point in points:
            value = getattr(point, attribute)
            if value in seen:
                raise ProfileError(f"{source}: point {point.name!r}: duplicate {attribute} {value!r}")
            seen.add(value)


def _reject_overlaps(source: str, points: tuple[Point, ...]) -> None:
    ordered = sorted(points, key=lambda point: point.address)
    for before, after in zip(ordered, ordered[1:]):
        if after.address < before.end:
            raise ProfileError(
                f"{source}: point {after.name!r}: {after.describe_registers()} overlap "
                f"point {before.name!r} ({before.describe_registers()})"
            )
