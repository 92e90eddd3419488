"""A profile seen from the device side: which points a register range covers."""

from __future__ import annotations

from collections.abc import Sequence

from adapters import CodecError, Point, Profile
from adapters.codec import check_value, decode, encode
from pymodbus.constants import ExcCodes

from .device import SimulatedDevice, Value
from .errors import RejectedWrite


class RegisterMap:
    """Reads and writes of one profile's holding registers, in terms of its points."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.points = tuple(sorted(profile.points, key=lambda point: point.address))

    def read(self, device: SimulatedDevice, *, address: int, count: int) -> list[int]:
        """The words in ``address .. address + count - 1``, computed from the device now."""
        words = [0] * count
        for point in self._overlapping(address, count):
            for offset, word in enumerate(encode(point, device.value(point.role))):
                if 0 <= (index := point.address + offset - address) < count:
                    words[index] = word
        return words

    def decode_write(self, *, address: int, words: Sequence[int]) -> dict[str, Value]:
        """Values by role for a write request; ``RejectedWrite`` if the device must refuse it."""
        end = address + len(words)
        values: dict[str, Value] = {}
        for point in self._overlapping(address, len(words)):
            if point.address < address or point.end > end:
                raise RejectedWrite(ExcCodes.ILLEGAL_ADDRESS, f"write covers part of {point.name!r}")
            if not point.writable:
                raise RejectedWrite(ExcCodes.ILLEGAL_ADDRESS, f"{point.name!r} is read-only")
            values[point.role] = _checked(point, words[point.address - address : point.end - address])
        return values

    def _overlapping(self, address: int, count: int) -> list[Point]:
        return [p for p in self.points if p.address < address + count and address < p.end]


def _checked(point: Point, words: Sequence[int]) -> Value:
    value = decode(point, words)
    try:
        check_value(point, value)
    except CodecError as exc:
        raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, str(exc)) from exc
    return value
