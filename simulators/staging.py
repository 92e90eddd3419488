"""The inactive firmware bank being written: a declared image and the bytes staged from offset 0."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from pymodbus.constants import ExcCodes

from .errors import RejectedWrite


@dataclass(frozen=True, slots=True, kw_only=True)
class Declaration:
    """The image about to be staged: its size in bytes and its version. Size 0: none."""

    size: int = 0
    version: str = ""


class Staging:
    """Chunks are accepted only at or before the high-water mark, so the staged bytes stay contiguous."""

    def __init__(self) -> None:
        self.declaration = Declaration()
        self._data = bytearray()

    @property
    def staged_bytes(self) -> int:
        return len(self._data)

    @property
    def crc(self) -> int:
        """CRC32 (zlib) of the staged bytes."""
        return zlib.crc32(self._data)

    @property
    def complete(self) -> bool:
        return 0 < self.declaration.size == self.staged_bytes

    def declare(self, declaration: Declaration) -> bool:
        """Start over for a different image; True if it was different."""
        if declaration == self.declaration:
            return False
        self.declaration, self._data = declaration, bytearray()
        return True

    def check(self, *, offset: int, length: int) -> None:
        """``RejectedWrite`` unless ``length`` bytes at ``offset`` continue or overwrite the staged run."""
        size, staged = self.declaration.size, self.staged_bytes
        if length < 1:
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"chunk length must be >= 1, got {length}")
        if offset > staged:
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"chunk at {offset} leaves a gap after {staged} staged bytes")
        if offset + length > size:
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE,
                                f"chunk {offset}..{offset + length - 1} runs past the declared {size} bytes")

    def store(self, *, offset: int, data: bytes) -> None:
        self.check(offset=offset, length=len(data))
        self._data[offset : offset + len(data)] = data
