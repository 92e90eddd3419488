"""The register codec: every type and word order, scaling, range checks, purity."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import CodecError, Point, decode, encode

HYPOTHESIS = settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORD = st.integers(min_value=0, max_value=0xFFFF)


def point(type_: str, *, word_order: str = "big", scale: float = 1.0, **limits) -> Point:
    return Point(
        name="p", role="p", address=10, type=type_, unit="u", writable=True,
        word_order=word_order, scale=scale, **limits,
    )


@pytest.mark.parametrize(
    ("type_", "word_order", "value", "registers"),
    [
        ("uint16", "big", 0x1234, (0x1234,)),
        ("uint16", "little", 0xFFFF, (0xFFFF,)),
        ("int16", "big", -2, (0xFFFE,)),
        ("int16", "big", 0x7FFF, (0x7FFF,)),
        ("uint32", "big", 0x12345678, (0x1234, 0x5678)),
        ("uint32", "little", 0x12345678, (0x5678, 0x1234)),
        ("int32", "big", -2, (0xFFFF, 0xFFFE)),
        ("int32", "little", -2, (0xFFFE, 0xFFFF)),
        ("int32", "big", -0x80000000, (0x8000, 0x0000)),
        ("float32", "big", 1.5, (0x3FC0, 0x0000)),
        ("float32", "little", 1.5, (0x0000, 0x3FC0)),
        ("float32", "big", -0.1, tuple(struct.unpack(">HH", struct.pack(">f", -0.1)))),
    ],
)
def test_known_encodings_both_ways(type_, word_order, value, registers):
    p = point(type_, word_order=word_order)
    assert encode(p, value) == registers
    decoded = decode(p, registers)
    if type_ == "float32":
        assert decoded == pytest.approx(value, rel=1e-7)
    else:
        assert decoded == value and isinstance(decoded, int)


def test_scale_applies_both_ways():
    kw = point("int32", scale=0.001)
    assert encode(kw, 12.345) == (0, 12345)
    assert decode(kw, (0, 12345)) == 12.345
    assert encode(kw, -1.5) == (0xFFFF, 0xFFFF - 1500 + 1)
    tens = point("uint16", scale=10)
    assert encode(tens, 250) == (25,)
    assert decode(tens, (25,)) == 250.0


def test_encode_rounds_to_nearest_raw_step():
    kw = point("uint32", scale=0.001)
    assert encode(kw, 1.0004) == (0, 1000)
    assert encode(kw, 1.0006) == (0, 1001)


@pytest.mark.parametrize(
    ("type_", "scale", "too_low", "too_high"),
    [
        ("uint16", 1, -1, 65536),
        ("int16", 1, -32769, 32768),
        ("uint32", 1, -1, 2**32),
        ("int32", 1, -(2**31) - 1, 2**31),
        ("uint32", 0.001, -0.001, 4294967.296),
        ("float32", 1, -1e39, 1e39),
    ],
)
def test_out_of_range_values_are_rejected_clearly(type_, scale, too_low, too_high):
    p = point(type_, scale=scale)
    for value in (too_low, too_high):
        with pytest.raises(CodecError, match=rf"point 'p': value .* is out of range for {type_}") as info:
            encode(p, value)
        assert isinstance(info.value, ValueError) and not isinstance(info.value, TypeError)


def test_point_limits_are_enforced():
    pct = point("uint16", minimum=0, maximum=100)
    assert encode(pct, 100) == (100,)
    with pytest.raises(CodecError, match="above maximum 100"):
        encode(pct, 101)
    with pytest.raises(CodecError, match="below minimum 0"):
        encode(point("int16", minimum=0), -1)


@pytest.mark.parametrize("value", [True, "5", None, math.nan, math.inf, -math.inf])
def test_non_numbers_and_non_finite_values_are_rejected(value):
    with pytest.raises(CodecError, match="point 'p'"):
        encode(point("float32"), value)


@pytest.mark.parametrize("registers", [(), (1,), (1, 2, 3), (1, 65536), (-1, 0), (1.0, 2)])
def test_decode_rejects_wrong_count_or_non_words(registers):
    with pytest.raises(CodecError, match="point 'p'"):
        decode(point("uint32"), registers)


def test_inputs_are_not_mutated():
    p = point("int32", word_order="little", scale=0.001)
    registers = [0x2345, 0x0001]
    assert decode(p, registers) == 74.565
    assert registers == [0x2345, 0x0001]
    encoded = encode(p, 74.565)
    assert isinstance(encoded, tuple) and encoded == (0x2345, 0x0001)


INTEGER_TYPES = st.sampled_from(["uint16", "int16", "uint32", "int32"])
WORD_ORDERS = st.sampled_from(["big", "little"])
SCALES = st.sampled_from([1, 0.1, 0.01, 0.001, 10, 0.5])


@HYPOTHESIS
@given(type_=INTEGER_TYPES, word_order=WORD_ORDERS, scale=SCALES, data=st.data())
def test_integer_registers_round_trip(type_, word_order, scale, data):
    p = point(type_, word_order=word_order, scale=scale)
    registers = tuple(data.draw(st.lists(WORD, min_size=p.register_count, max_size=p.register_count)))
    assert encode(p, decode(p, registers)) == registers


@HYPOTHESIS
@given(word_order=WORD_ORDERS, registers=st.tuples(WORD, WORD))
def test_float32_registers_round_trip(word_order, registers):
    p = point("float32", word_order=word_order)
    value = decode(p, registers)
    if math.isfinite(value):
        assert encode(p, value) == registers


@HYPOTHESIS
@given(type_=INTEGER_TYPES, scale=SCALES, data=st.data())
def test_values_round_trip_within_half_a_step(type_, scale, data):
    p = point(type_, scale=scale)
    low, high = p.data_type.minimum * scale, p.data_type.maximum * scale
    value = data.draw(st.floats(min_value=low, max_value=high))
    try:
        registers = encode(p, value)
    except CodecError:  # value at the very edge rounded past the type's range
        assert round(value / scale) in (p.data_type.minimum - 1, p.data_type.maximum + 1)
        return
    assert decode(p, registers) == pytest.approx(value, abs=scale / 2 * 1.000001)
