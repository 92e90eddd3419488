"""Bytes points: raw bytes, two per register (big-endian byte pairs), zero padded."""

from __future__ import annotations

from .errors import CodecError
from .point import Point

PAD = b"\0"


def encode_bytes(point: Point, value: object) -> tuple[int, ...]:
    """``value`` in ``point.size`` registers; shorter values are padded with zero bytes."""
    if not isinstance(value, (bytes, bytearray)):
        raise CodecError(f"point {point.name!r}: expects bytes, got {type(value).__name__} {_preview(value)}")
    capacity = 2 * point.register_count
    if len(value) > capacity:
        raise CodecError(f"point {point.name!r}: {len(value)} bytes do not fit {capacity} bytes")
    padded = bytes(value).ljust(capacity, PAD)
    return tuple(int.from_bytes(padded[i : i + 2], "big") for i in range(0, capacity, 2))


def decode_bytes(words: tuple[int, ...]) -> bytes:
    """Exactly two bytes per register, padding included: the codec cannot tell padding from data."""
    return b"".join(word.to_bytes(2, "big") for word in words)


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
