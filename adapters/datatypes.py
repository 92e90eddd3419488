"""Register data types a profile point may use, and how many registers each takes."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True, slots=True)
class DataType:
    """How one value is laid out in 16-bit registers (big-endian within a word)."""

    name: str
    struct_format: str
    register_count: int
    is_integer: bool
    minimum: float
    maximum: float


DATA_TYPES = MappingProxyType(
    {
        "uint16": DataType("uint16", ">H", 1, True, 0, 0xFFFF),
        "int16": DataType("int16", ">h", 1, True, -0x8000, 0x7FFF),
        "uint32": DataType("uint32", ">I", 2, True, 0, 0xFFFF_FFFF),
        "int32": DataType("int32", ">i", 2, True, -0x8000_0000, 0x7FFF_FFFF),
        "float32": DataType("float32", ">f", 2, False, -FLOAT32_MAX, FLOAT32_MAX),
    }
)

WORD_ORDERS = frozenset({"big", "little"})
