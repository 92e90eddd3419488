"""Byte order inside a register, with word order, for every type: known vectors and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import Point, ProfileError, decode, encode, parse_profile
from adapters.codec import not_implemented_words
from adapters.datatypes import BYTE_ORDERS, FLOAT32_MAX, WORD_ORDERS

HYPOTHESIS = settings(max_examples=150)
ORDERS = sorted(BYTE_ORDERS)
WIDE_TYPES = ("uint32", "int32", "float32")
SIZE = 3  # registers of the string and bytes points


def point(type_: str, *, byte_order: str = "big", word_order: str = "big", **fields) -> Point:
    return Point(name="p", role="p", address=0, type=type_, unit="", writable=True,
                 byte_order=byte_order, word_order=word_order, **fields)


def swapped(words: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int.from_bytes(word.to_bytes(2, "big"), "little") for word in words)


VALUES = {
    "uint16": st.integers(0, 0xFFFF),
    "int16": st.integers(-0x8000, 0x7FFF),
    "enum16": st.integers(0, 0xFFFF),
    "sunssf": st.integers(-10, 10),
    "uint32": st.integers(0, 0xFFFF_FFFF),
    "int32": st.integers(-0x8000_0000, 0x7FFF_FFFF),
    "float32": st.floats(-FLOAT32_MAX, FLOAT32_MAX, width=32, allow_nan=False),
    "string": st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=2 * SIZE),
    "bytes": st.binary(min_size=2 * SIZE, max_size=2 * SIZE),
}
COMBINATIONS = [
    (type_, word_order, byte_order)
    for type_ in VALUES
    for word_order in (sorted(WORD_ORDERS) if type_ in WIDE_TYPES else ["big"])
    for byte_order in ORDERS
]


def typed_point(type_: str, word_order: str, byte_order: str) -> Point:
    size = {"size": SIZE} if type_ in ("string", "bytes") else {}
    return point(type_, word_order=word_order, byte_order=byte_order, **size)


@pytest.mark.parametrize(("type_", "word_order", "byte_order"), COMBINATIONS)
@HYPOTHESIS
@given(data=st.data())
def test_every_type_round_trips_in_every_order(type_, word_order, byte_order, data):
    p = typed_point(type_, word_order, byte_order)
    value = data.draw(VALUES[type_])
    words = encode(p, value)
    assert decode(p, words) == value
    big = typed_point(type_, word_order, "big")
    assert words == (swapped(encode(big, value)) if byte_order == "little" else encode(big, value))


@pytest.mark.parametrize(
    ("type_", "word_order", "byte_order", "value", "registers"),
    [
        ("uint16", "big", "little", 0x1234, (0x3412,)),
        ("int16", "big", "little", -2, (0xFEFF,)),
        ("uint32", "big", "big", 0x12345678, (0x1234, 0x5678)),
        ("uint32", "little", "big", 0x12345678, (0x5678, 0x1234)),
        ("uint32", "big", "little", 0x12345678, (0x3412, 0x7856)),
        ("uint32", "little", "little", 0x12345678, (0x7856, 0x3412)),  # the bytes 78 56 34 12
        ("float32", "big", "little", 1.0, (0x803F, 0x0000)),  # 3F 80 00 00, each word swapped
        ("sunssf", "big", "little", -3, (0xFDFF,)),
        ("string", "big", "little", "ABC", (0x4241, 0x0043, 0x0000)),
        ("bytes", "big", "little", b"\x01\x02\x03\x04\x05\x06", (0x0201, 0x0403, 0x0605)),
    ],
)
def test_known_vectors(type_, word_order, byte_order, value, registers):
    p = typed_point(type_, word_order, byte_order)
    assert encode(p, value) == registers and decode(p, registers) == value


def test_the_not_implemented_marker_is_sent_in_the_points_byte_order():
    p = point("int16", byte_order="little", not_implemented=-0x8000)
    assert not_implemented_words(p) == (0x0080,)


def test_profiles_declare_byte_order_per_point():
    profile = parse_profile(
        '{"name": "meter", "points": [{"name": "power_w", "address": 0, "type": "int32", "unit": "W",'
        ' "writable": false, "word_order": "little", "byte_order": "little"}]}', source="meter.json")
    assert (profile.point("power_w").word_order, profile.point("power_w").byte_order) == ("little", "little")
    with pytest.raises(ProfileError, match="meter.json: point 'power_w': unknown byte_order 'middle'"):
        parse_profile('{"name": "meter", "points": [{"name": "power_w", "address": 0, "type": "int32",'
                      ' "writable": false, "byte_order": "middle"}]}', source="meter.json")
