"""A profile seen from the device side: which points a register range covers.

Values go through the adapters' codec, so the simulator encodes exactly what
the adapter decodes, scale factors included. A device answers None for a point
it does not implement; that point reads as the profile's "not implemented" words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from adapters import CodecError, Point, Profile
from adapters.codec import check_value, decode, encode, not_implemented_words
from pymodbus.constants import ExcCodes

from .device_base import Value
from .errors import RejectedWrite


class ValueSource(Protocol):
    def value(self, role: str) -> Value | None: ...


class RegisterMap:
    """Reads and writes of one profile's holding registers, in terms of its points."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.points = tuple(sorted(profile.points, key=lambda point: point.address))

    def read(self, device: ValueSource, *, address: int, count: int) -> list[int]:
        """The words in ``address .. address + count - 1``, computed from the device now."""
        words = [0] * count
        for point in self._overlapping(address, count):
            for offset, word in enumerate(self._words(device, point)):
                if 0 <= (index := point.address + offset - address) < count:
                    words[index] = word
        return words

    def decode_write(self, device: ValueSource, *, address: int, words: Sequence[int]) -> dict[str, Value]:
        """Values by role for a write request; ``RejectedWrite`` if the device must refuse it."""
        end = address + len(words)
        values: dict[str, Value] = {}
        for point in self._overlapping(address, len(words)):
            if point.address < address or point.end > end:
                raise RejectedWrite(ExcCodes.ILLEGAL_ADDRESS, f"write covers part of {point.name!r}")
            if not point.writable:
                raise RejectedWrite(ExcCodes.ILLEGAL_ADDRESS, f"{point.name!r} is read-only")
            chunk = words[point.address - address : point.end - address]
            values[point.role] = _checked(point, chunk, self._scale_factor(device, point))
        return values

    def _words(self, device: ValueSource, point: Point) -> tuple[int, ...]:
        value = device.value(point.role)
        if value is None:
            return not_implemented_words(point)
        return encode(point, value, scale_factor=self._scale_factor(device, point))

    def _scale_factor(self, device: ValueSource, point: Point) -> int | None:
        factor_point = self.profile.scale_factor_point(point)
        if factor_point is None:
            return None
        factor = device.value(factor_point.role)
        if factor is None:
            raise RejectedWrite(ExcCodes.DEVICE_FAILURE, f"{point.name!r}: scale factor is not implemented")
        return int(factor)

    def _overlapping(self, address: int, count: int) -> list[Point]:
        return [p for p in self.points if p.address < address + count and address < p.end]


def _checked(point: Point, words: Sequence[int], scale_factor: int | None) -> Value:
    try:
        value = decode(point, words, scale_factor=scale_factor)
        check_value(point, value)
    except CodecError as exc:
        raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, str(exc)) from exc
    return value
