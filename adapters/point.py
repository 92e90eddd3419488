"""One value in a device's holding registers, as a validated record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .datatypes import BYTE_ORDERS, DATA_TYPES, WORD_ORDERS, DataType
from .errors import ProfileError

REGISTER_SPACE = 0x10000


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One value in a device's holding registers.

    The engineering value is ``raw * scale * 10 ** sf``, where ``sf`` is the value
    of the point named by ``scale_factor`` (SunSpec style) or 0 without one.
    ``not_implemented`` is the raw value a device reports for a value it lacks;
    ``symbols`` are the names and values an ``enum16`` accepts. ``word_order``
    orders the registers of a 32-bit value, ``byte_order`` the two bytes inside
    every register (of any type).
    """

    name: str
    role: str
    address: int
    type: str
    unit: str
    writable: bool
    word_order: str = "big"
    byte_order: str = "big"
    scale: float = 1.0
    scale_factor: str | None = None
    size: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    not_implemented: int | None = None
    symbols: tuple[tuple[str, int], ...] = ()
    # Points key the dicts of every request (words read, scale factors): their hash and
    # end are worked out once, not per lookup from the fifteen fields.
    _hash: int = field(init=False, repr=False, compare=False)
    _end: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if problem := _point_problem(self):
            raise ProfileError(f"point {self.name!r}: {problem}")
        object.__setattr__(self, "_hash", hash(tuple(getattr(self, f.name) for f in fields(self) if f.compare)))
        object.__setattr__(self, "_end", self.address + self.register_count)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):
        # Rebuilt from its fields where it is unpickled: a string's hash differs between processes.
        return (_rebuild, (tuple((f.name, getattr(self, f.name)) for f in fields(self) if f.init),))

    @property
    def data_type(self) -> DataType:
        return DATA_TYPES[self.type]

    @property
    def register_count(self) -> int:
        return self.data_type.register_count or self.size or 0

    @property
    def end(self) -> int:
        """First register address after this point."""
        return self._end

    def describe_registers(self) -> str:
        return f"registers {self.address}..{self.end - 1}"


def _rebuild(items: tuple[tuple[str, object], ...]) -> Point:
    return Point(**dict(items))


def _point_problem(point: Point) -> str | None:
    if not point.name or not point.role:
        return "name and role must be non-empty"
    if point.type not in DATA_TYPES:
        return f"unknown type {point.type!r} (known: {', '.join(DATA_TYPES)})"
    if point.word_order not in WORD_ORDERS:
        return f"unknown word_order {point.word_order!r} (known: big, little)"
    if point.byte_order not in BYTE_ORDERS:
        return f"unknown byte_order {point.byte_order!r} (known: big, little)"
    if not math.isfinite(point.scale) or point.scale <= 0:
        return f"scale must be a finite number > 0, got {point.scale!r}"
    if problem := _size_problem(point) or _kind_problem(point):
        return problem
    if not 0 <= point.address <= REGISTER_SPACE - point.register_count:
        return f"address {point.address} does not fit a {point.type} in 0..{REGISTER_SPACE - 1}"
    if None not in (point.minimum, point.maximum) and point.minimum > point.maximum:
        return f"minimum {point.minimum} is greater than maximum {point.maximum}"
    return None


def _size_problem(point: Point) -> str | None:
    if point.data_type.is_sized:
        if not isinstance(point.size, int) or isinstance(point.size, bool) or point.size < 1:
            return f"a {point.type} needs 'size' (registers) >= 1, got {point.size!r}"
    elif point.size is not None:
        return f"only a string takes 'size' (and a bytes); a {point.type} has a fixed size"
    return None


def _kind_problem(point: Point) -> str | None:
    data_type = point.data_type
    if data_type.is_sized and (point.scale != 1 or point.scale_factor or point.word_order != "big"):
        return f"a {point.type} takes no scale, scale_factor or little word_order"
    if data_type.is_sized and (point.minimum is not None or point.maximum is not None):
        return f"a {point.type} takes no minimum or maximum"
    if point.type == "sunssf" and (point.scale != 1 or point.scale_factor):
        return "a sunssf is an exponent and takes no scale or scale_factor"
    if point.scale_factor is not None and not point.scale_factor:
        return "scale_factor must name a point"
    if point.symbols and point.type != "enum16":
        return f"only an enum16 takes symbols, not a {point.type}"
    if point.not_implemented is not None and not data_type.is_integer:
        return f"not_implemented needs an integer type, not a {point.type}"
    if point.not_implemented is not None and not data_type.minimum <= point.not_implemented <= data_type.maximum:
        return f"not_implemented {point.not_implemented} does not fit a {point.type}"
    return None
