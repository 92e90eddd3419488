"""The ``bytes`` point type: raw bytes, two per register, zero padded; decodes to exactly 2 * size bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import CodecError, Point, ProfileError, decode, encode, parse_profile
from adapters.codec import check_value

HYPOTHESIS = settings(max_examples=300)


def blob(size: int = 3, **fields) -> Point:
    return Point(name="data", role="data", address=0, type="bytes", unit="", writable=True, size=size, **fields)


def test_bytes_are_big_endian_pairs_zero_padded():
    assert encode(blob(), b"\x01\x02\x03") == (0x0102, 0x0300, 0x0000)
    assert encode(blob(), bytearray(b"\xff\xfe\xfd\xfc\xfb\xfa")) == (0xFFFE, 0xFDFC, 0xFBFA)
    assert encode(blob(), b"") == (0, 0, 0)


def test_decode_gives_exactly_two_bytes_per_register():
    assert decode(blob(), (0x0102, 0x0300, 0x0000)) == b"\x01\x02\x03\x00\x00\x00"
    with pytest.raises(CodecError, match="bytes needs 3 registers, got 2"):
        decode(blob(), (1, 2))
    with pytest.raises(CodecError, match="not a 16-bit word"):
        decode(blob(), (1, 2, 0x10000))


def test_too_many_bytes_or_not_bytes_is_a_codec_error():
    with pytest.raises(CodecError, match="point 'data': 7 bytes do not fit 6 bytes"):
        encode(blob(), b"1234567")
    for value in ("abc", 12, None, [1, 2]):
        with pytest.raises(CodecError, match="point 'data': expects bytes"):
            encode(blob(), value)
    with pytest.raises(CodecError, match="do not fit"):
        check_value(blob(), b"\0" * 7)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"size": None}, "a bytes needs 'size'"),
        ({"size": 0}, "a bytes needs 'size'"),
        ({"scale": 2.0}, "a bytes takes no scale"),
        ({"word_order": "little"}, "a bytes takes no scale, scale_factor or little word_order"),
        ({"minimum": 0}, "a bytes takes no minimum or maximum"),
        ({"not_implemented": 0}, "not_implemented needs an integer type"),
    ],
)
def test_invalid_bytes_points_are_rejected(fields, problem):
    base = {"name": "data", "role": "data", "address": 0, "type": "bytes", "unit": "", "writable": True, "size": 2}
    with pytest.raises(ProfileError, match=problem):
        Point(**{**base, **fields})


def test_bytes_point_in_a_profile_document():
    text = '{"name": "box", "points": [{"name": "blob", "address": 4, "type": "bytes", "size": 120, "writable": true}]}'
    point = parse_profile(text, source="box.json").point("blob")
    assert (point.register_count, point.end) == (120, 124)


@HYPOTHESIS
@given(size=st.integers(min_value=1, max_value=125), data=st.data())
def test_bytes_round_trip(size, data):
    value = data.draw(st.binary(max_size=2 * size))
    words = encode(blob(size), value)
    assert len(words) == size and all(0 <= word <= 0xFFFF for word in words)
    decoded = decode(blob(size), words)
    assert decoded == value.ljust(2 * size, b"\0")
    assert encode(blob(size), decoded) == words
