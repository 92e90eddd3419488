"""Pure register encoding and decoding for profile points.

``encode`` turns an engineering value into register words and ``decode`` does
the reverse. ``raw * scale * 10 ** scale_factor`` is the engineering value,
where ``scale_factor`` is the value of the point's sunssf point (SunSpec) and
must be passed for exactly the points that name one. Strings are ASCII, two
characters per register, NUL padded; bytes are two per register, zero padded,
and decode to exactly ``2 * size`` bytes. A point's ``word_order`` orders the
registers of a 32-bit value; its ``byte_order`` (any type) the two bytes inside
each register. Neither function keeps state or changes its arguments.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from numbers import Real

from .blob import decode_bytes, encode_bytes
from .datatypes import SCALE_FACTOR_LIMIT
from .errors import CodecError, NotImplementedValueError
from .point import Point
from .text import decode_text, encode_text

Value = int | float | str | bytes

_MAX_WORD = 0xFFFF
_INVERSE_TOLERANCE = 1e-12


def encode(point: Point, value: Value, *, scale_factor: int | None = None) -> tuple[int, ...]:
    """Encode ``value`` (engineering units) into the point's register words."""
    return _in_byte_order(point, _encode_words(point, value, scale_factor))


def _encode_words(point: Point, value: Value, scale_factor: int | None) -> tuple[int, ...]:
    if point.data_type.is_text:
        return encode_text(point, value)
    if point.data_type.is_bytes:
        return encode_bytes(point, value)
    check_value(point, value)
    raw = _to_raw(point, value, _scale_of(point, scale_factor))
    return _pack(point, raw)


def decode(point: Point, registers: Sequence[int], *, scale_factor: int | None = None) -> Value:
    """Decode the point's register words into an engineering value."""
    words = tuple(registers)
    _check_words(point, words)
    words = _in_byte_order(point, words)
    if point.data_type.is_text:
        return decode_text(point, words)
    if point.data_type.is_bytes:
        return decode_bytes(words)
    packed = b"".join(word.to_bytes(2, "big") for word in _in_word_order(point, list(words)))
    (raw,) = struct.unpack(point.data_type.struct_format, packed)
    _check_raw(point, raw)
    return _from_raw(point, raw, _scale_of(point, scale_factor))


def not_implemented_words(point: Point) -> tuple[int, ...]:
    """The words a device sends for a value it does not implement (zeros without a marker)."""
    if point.not_implemented is None:
        return (0,) * point.register_count
    return _in_byte_order(point, _pack(point, point.not_implemented))


def check_value(point: Point, value: Value) -> None:
    """Raise ``CodecError`` unless ``value`` is a finite number within the point's limits,
    or text or bytes that fit a ``string`` or ``bytes`` point."""
    if point.data_type.is_sized:
        encode(point, value)
        return
    # int and float first: the check against the Real ABC is slow, and this runs for
    # every value of every write of a large batch
    if type(value) is not int and type(value) is not float \
            and (isinstance(value, bool) or not isinstance(value, Real)):
        raise CodecError(f"point {point.name!r}: expects a number, got {value!r}")
    if not math.isfinite(value):
        raise CodecError(f"point {point.name!r}: value {value!r} is not finite")
    if point.minimum is not None and value < point.minimum:
        raise CodecError(f"point {point.name!r}: value {value!r} is below minimum {point.minimum}")
    if point.maximum is not None and value > point.maximum:
        raise CodecError(f"point {point.name!r}: value {value!r} is above maximum {point.maximum}")
    if point.symbols and value not in {number for _, number in point.symbols}:
        names = ", ".join(f"{name}={number}" for name, number in point.symbols)
        raise CodecError(f"point {point.name!r}: value {value!r} is not one of {names}")


def _scale_of(point: Point, scale_factor: int | None) -> float:
    """The point's multiplier: its fixed scale times 10 ** (its scale factor's value)."""
    if point.scale_factor is None:
        if scale_factor is not None:
            raise CodecError(f"point {point.name!r}: has no scale factor, got {scale_factor!r}")
        return point.scale
    if scale_factor is None:
        raise CodecError(f"point {point.name!r}: needs the value of its scale factor {point.scale_factor!r}")
    check_scale_factor(point.scale_factor, scale_factor)
    return point.scale * 10.0**scale_factor


def check_scale_factor(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > SCALE_FACTOR_LIMIT:
        raise CodecError(
            f"point {name!r}: scale factor {value!r} is not an int in -{SCALE_FACTOR_LIMIT}..{SCALE_FACTOR_LIMIT}"
        )


def _to_raw(point: Point, value: Value, scale: float) -> Value:
    data_type = point.data_type
    raw = _unscale(scale, value)
    if data_type.is_integer:
        raw = round(raw)
    if not data_type.minimum <= raw <= data_type.maximum:
        raise CodecError(
            f"point {point.name!r}: value {value!r} is out of range for {data_type.name} "
            f"with scale {_number(scale)} ({_number(_scale(scale, data_type.minimum))}.."
            f"{_number(_scale(scale, data_type.maximum))})"
        )
    if point.type == "sunssf":
        check_scale_factor(point.name, raw)
    if raw == point.not_implemented:
        raise CodecError(f"point {point.name!r}: value {value!r} encodes as the 'not implemented' marker {raw}")
    return raw


def _check_raw(point: Point, raw: Value) -> None:
    if point.not_implemented is not None and raw == point.not_implemented:
        raise NotImplementedValueError(
            f"point {point.name!r}: the device reports it as not implemented (raw {raw})"
        )
    if point.type == "sunssf":
        check_scale_factor(point.name, raw)


def _from_raw(point: Point, raw: Value, scale: float) -> Value:
    if point.data_type.is_integer and scale == 1:
        return int(raw)
    return _scale(scale, raw)


def _pack(point: Point, raw: Value) -> tuple[int, ...]:
    packed = struct.pack(point.data_type.struct_format, raw)
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    return tuple(_in_word_order(point, words))


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


def _in_byte_order(point: Point, words: tuple[int, ...]) -> tuple[int, ...]:
    """Swap the bytes of each word for a little byte order; swapping twice undoes it, so decode uses it too."""
    if point.byte_order == "big":
        return words
    return tuple(((word & 0xFF) << 8) | (word >> 8) for word in words)


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
