"""ASCII string points: two characters per register, high byte first, NUL padded."""

from __future__ import annotations

from .errors import CodecError
from .point import Point

PAD = b"\0"


def encode_text(point: Point, value: object) -> tuple[int, ...]:
    if not isinstance(value, str):
        raise CodecError(f"point {point.name!r}: expects a string, got {value!r}")
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise CodecError(f"point {point.name!r}: {value!r} is not ASCII") from exc
    if PAD in data:
        raise CodecError(f"point {point.name!r}: {value!r} contains NUL")
    capacity = 2 * point.register_count
    if len(data) > capacity:
        raise CodecError(f"point {point.name!r}: {value!r} is longer than {capacity} characters")
    padded = data.ljust(capacity, PAD)
    return tuple(int.from_bytes(padded[i : i + 2], "big") for i in range(0, capacity, 2))


def decode_text(point: Point, words: tuple[int, ...]) -> str:
    """The characters before the first NUL."""
    data = b"".join(word.to_bytes(2, "big") for word in words).partition(PAD)[0]
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CodecError(f"point {point.name!r}: registers hold non-ASCII bytes {data!r}") from exc
