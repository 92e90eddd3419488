"""Pure register encoding and decoding for profile points.

``encode`` turns an engineering value into register words and ``decode`` does
the reverse. ``raw * scale`` is the engineering value. Neither function keeps
state or changes its arguments.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from numbers import Real

from .errors import CodecError
from .profile import Point

Value = int | float

_MAX_WORD = 0xFFFF
_INVERSE_TOLERANCE = 1e-12


def encode(point: Point, value: Value) -> tuple[int, ...]:
    """Encode ``value`` (engineering units) into the point's register words."""
    check_value(point, value)
    raw = _to_raw(point, value)
    packed = struct.pack(point.data_type.struct_format, raw)
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    return tuple(_in_word_order(point, words))


def decode(point: Point, registers: Sequence[int]) -> Value:
    """Decode the point's register words into an engineering value."""
    words = tuple(registers)
    _check_words(point, words)
    packed = b"".join(word.to_bytes(2, "big") for word in _in_word_order(point, list(words)))
    (raw,) = struct.unpack(point.data_type.struct_format, packed)
    return _from_raw(point, raw)


def check_value(point: Point, value: Value) -> None:
    """Raise ``CodecError`` unless ``value`` is a finite number within the point's limits."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise CodecError(f"point {point.name!r}: expects a number, got {value!r}")
    if not math.isfinite(value):
        raise CodecError(f"point {point.name!r}: value {value!r} is not finite")
    if point.minimum is not None and value < point.minimum:
        raise CodecError(f"point {point.name!r}: value {value!r} is below minimum {point.minimum}")
    if point.maximum is not None and value > point.maximum:
        raise CodecError(f"point {point.name!r}: value {value!r} is above maximum {point.maximum}")


def _to_raw(point: Point, value: Value) -> Value:
    data_type = point.data_type
    raw = _unscale(point.scale, value)
    if data_type.is_integer:
        raw = round(raw)
    if not data_type.minimum <= raw <= data_type.maximum:
        raise CodecError(
            f"point {point.name!r}: value {value!r} is out of range for {data_type.name} "
            f"with scale {_number(point.scale)} ({_number(_scale(point.scale, data_type.minimum))}.."
            f"{_number(_scale(point.scale, data_type.maximum))})"
        )
    return raw


def _from_raw(point: Point, raw: Value) -> Value:
    if point.data_type.is_integer and point.scale == 1:
        return int(raw)
    return _scale(point.scale, raw)


def _check_words(point: Point, words: tuple[int, ...]) -> None:
    if len(words) != point.register_count:
        raise CodecError(
            f"point {point.name!r}: {point.type} needs {point.register_count} registers, "
            f"got {len(words)}"
        )
    for word in words:
        if isinstance(word, bool) or not isinstance(word, int) or not 0 <= word <= _MAX_WORD:
            raise CodecError(f"point {point.name!r}: register value {word!r} is not a 16-bit word")


def _in_word_order(point: Point, words: list[int]) -> list[int]:
    return words if point.word_order == "big" else words[::-1]


def _scale(scale: float, raw: Value) -> float:
    """raw * scale; divide by an exact integer when the scale is 1/n, to keep 12345 * 0.001 == 12.345."""
    if inverse := _integer_inverse(scale):
        return raw / inverse
    return float(raw * scale)


def _unscale(scale: float, value: Value) -> float:
    if inverse := _integer_inverse(scale):
        return value * inverse
    return value / scale


def _integer_inverse(scale: float) -> int | None:
    if scale >= 1:
        return None
    inverse = round(1 / scale)
    return inverse if abs(inverse * scale - 1) < _INVERSE_TOLERANCE else None


def _number(value: float) -> Value:
    """Print 65535.0 as 65535 in messages."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value
