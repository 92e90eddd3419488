"""Register data types a profile point may use, and how many registers each takes."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

FLOAT32_MAX = 3.4028234663852886e38
SCALE_FACTOR_LIMIT = 10  # a sunssf exponent is in -10..10 (SunSpec)


@dataclass(frozen=True, slots=True)
class DataType:
    """How one value is laid out in 16-bit registers (before a point's word and byte order apply).

    ``register_count`` is None for ``string`` and ``bytes``: the point's ``size``
    says how many registers it takes. ``minimum`` and ``maximum`` bound the raw value.
    """

    name: str
    struct_format: str | None
    register_count: int | None
    is_integer: bool
    minimum: float
    maximum: float

    @property
    def is_text(self) -> bool:
        return self.name == "string"

    @property
    def is_bytes(self) -> bool:
        return self.name == "bytes"

    @property
    def is_sized(self) -> bool:
        """Whether the point's ``size`` gives its register count (``string``, ``bytes``)."""
        return self.register_count is None


DATA_TYPES = MappingProxyType(
    {
        "uint16": DataType("uint16", ">H", 1, True, 0, 0xFFFF),
        "int16": DataType("int16", ">h", 1, True, -0x8000, 0x7FFF),
        "uint32": DataType("uint32", ">I", 2, True, 0, 0xFFFF_FFFF),
        "int32": DataType("int32", ">i", 2, True, -0x8000_0000, 0x7FFF_FFFF),
        "float32": DataType("float32", ">f", 2, False, -FLOAT32_MAX, FLOAT32_MAX),
        # An enumeration: a uint16 whose writes must be one of the point's symbols.
        "enum16": DataType("enum16", ">H", 1, True, 0, 0xFFFF),
        # A power-of-ten exponent other points refer to (SunSpec sunssf): int16 in -10..10.
        "sunssf": DataType("sunssf", ">h", 1, True, -0x8000, 0x7FFF),
        # ASCII text, ``size`` registers, two characters per register, NUL padded.
        "string": DataType("string", None, None, False, 0, 0),
        # Raw bytes, ``size`` registers, two bytes per register (big-endian pairs), zero padded.
        "bytes": DataType("bytes", None, None, False, 0, 0),
    }
)

WORD_ORDERS = frozenset({"big", "little"})  # of the registers of a 32-bit value: "big" puts the high word first
BYTE_ORDERS = frozenset({"big", "little"})  # of the two bytes inside each register: "big" puts the high byte first
