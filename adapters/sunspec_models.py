"""SunSpec model definitions, read from the JSON files that pysunspec2 ships.

Offsets, types, scale-factor names and access come from those definitions; no
SunSpec register map is typed by hand here. Points are named ``"<model>.<point>"``
(``"103.W"``), the same in profiles, resolved layouts and simulated devices.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sunspec2 import mb, mdef

from .errors import ProfileError
from .point import Point

DEFINITIONS_PACKAGE = "sunspec2"
DEFINITIONS_DIRECTORY = ("models", "json")
MARKER_WORDS = (0x5375, 0x6E53)  # "SunS"
END_MODEL_ID = mdef.END_MODEL_ID
HEADER_REGISTERS = 2  # ID and L precede every model's body

# SunSpec point type -> profile type. Types missing here are not supported.
TYPES = {
    mdef.TYPE_INT16: "int16", mdef.TYPE_UINT16: "uint16", mdef.TYPE_COUNT: "uint16",
    mdef.TYPE_ACC16: "uint16", mdef.TYPE_ENUM16: "enum16", mdef.TYPE_BITFIELD16: "uint16",
    mdef.TYPE_PAD: "uint16", mdef.TYPE_INT32: "int32", mdef.TYPE_UINT32: "uint32",
    mdef.TYPE_ACC32: "uint32", mdef.TYPE_ENUM32: "uint32", mdef.TYPE_BITFIELD32: "uint32",
    mdef.TYPE_IPADDR: "uint32", mdef.TYPE_FLOAT32: "float32", mdef.TYPE_STRING: "string",
    mdef.TYPE_SUNSSF: "sunssf",
}
# Types whose "not implemented" value cannot also be a real reading.
_MARKED_TYPES = frozenset({
    mdef.TYPE_INT16, mdef.TYPE_UINT16, mdef.TYPE_COUNT, mdef.TYPE_ENUM16, mdef.TYPE_BITFIELD16,
    mdef.TYPE_INT32, mdef.TYPE_UINT32, mdef.TYPE_ENUM32, mdef.TYPE_BITFIELD32, mdef.TYPE_SUNSSF,
})


@dataclass(frozen=True, slots=True)
class ModelPoint:
    """One top-level point of a model definition; ``offset`` counts from the model's ID register."""

    name: str
    offset: int
    type: str
    size: int
    scale_factor: str | int | None
    writable: bool
    units: str
    symbols: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ModelDef:
    """A model's fixed block. ``length`` is its L: registers after ID and L."""

    id: int
    name: str
    points: tuple[ModelPoint, ...]
    has_groups: bool

    @property
    def length(self) -> int:
        return sum(point.size for point in self.points) - HEADER_REGISTERS

    def point(self, name: str) -> ModelPoint:
        for point in self.points:
            if point.name == name:
                return point
        raise ProfileError(f"SunSpec model {self.id} ({self.name}) has no point {name!r}")


@functools.cache
def model_def(model_id: int) -> ModelDef:
    """The definition of SunSpec model ``model_id``, from pysunspec2's JSON file."""
    resource = resources.files(DEFINITIONS_PACKAGE).joinpath(*DEFINITIONS_DIRECTORY, mdef.to_json_filename(model_id))
    if not resource.is_file():
        raise ProfileError(f"SunSpec model {model_id}: pysunspec2 has no definition ({resource})")
    group = mdef.from_json_str(resource.read_text(encoding="utf-8"))[mdef.GROUP]
    points, offset = [], 0
    for entry in group[mdef.POINTS]:
        points.append(_model_point(entry, offset=offset, model_id=model_id))
        offset += points[-1].size
    return ModelDef(model_id, group[mdef.NAME], tuple(points), bool(group.get(mdef.GROUPS)))


def _model_point(entry: dict[str, Any], *, offset: int, model_id: int) -> ModelPoint:
    kind = entry[mdef.TYPE]
    size = mdef.point_type_info[kind]["len"] or entry.get(mdef.SIZE)
    if not size:
        raise ProfileError(f"SunSpec model {model_id}: point {entry[mdef.NAME]!r} has no size")
    symbols = tuple((s[mdef.NAME], int(s[mdef.VALUE])) for s in entry.get(mdef.SYMBOLS, ()))
    return ModelPoint(
        name=entry[mdef.NAME], offset=offset, type=kind, size=size, scale_factor=entry.get(mdef.SF),
        writable=entry.get(mdef.ACCESS, mdef.ACCESS_R) == mdef.ACCESS_RW,
        units=entry.get(mdef.UNITS, ""), symbols=symbols,
    )


def qualified(model_id: int, name: str) -> str:
    return f"{model_id}.{name}"


def split_ref(ref: str) -> tuple[int, str]:
    """``"103.W"`` -> ``(103, "W")``."""
    model, separator, name = ref.partition(".")
    if not separator or not model.isdigit() or not name:
        raise ProfileError(f"{ref!r} is not a SunSpec point reference like '103.W'")
    return int(model), name


def check_point_ref(ref: str, *, models: tuple[int, ...]) -> None:
    """Raise ``ProfileError`` unless ``ref`` names a supported point of one of ``models``."""
    model_id, name = split_ref(ref)
    if model_id not in models:
        raise ProfileError(f"point {ref!r}: model {model_id} is not among the profile's models {list(models)}")
    point = model_def(model_id).point(name)
    if point.type not in TYPES:
        raise ProfileError(f"point {ref!r}: SunSpec type {point.type!r} is not supported")


def to_point(model_id: int, name: str, *, model_address: int) -> Point:
    """The profile point for ``model_id``'s point ``name``, when the model's ID sits at ``model_address``."""
    source = model_def(model_id).point(name)
    if source.type not in TYPES:
        raise ProfileError(f"point {qualified(model_id, name)!r}: SunSpec type {source.type!r} is not supported")
    kind = TYPES[source.type]
    sf = source.scale_factor
    return Point(
        name=qualified(model_id, name),
        role=qualified(model_id, name),
        address=model_address + source.offset,
        type=kind,
        unit=source.units,
        writable=source.writable,
        scale=10.0**sf if isinstance(sf, int) else 1.0,
        scale_factor=qualified(model_id, sf) if isinstance(sf, str) else None,
        size=source.size if kind == "string" else None,
        not_implemented=mb.unimpl_value[source.type] if source.type in _MARKED_TYPES else None,
        symbols=source.symbols if kind == "enum16" else (),
    )


def model_points(model_id: int, *, model_address: int) -> tuple[Point, ...]:
    """Every top-level point of a model (ID and L included) at absolute addresses."""
    return tuple(to_point(model_id, p.name, model_address=model_address) for p in model_def(model_id).points)
