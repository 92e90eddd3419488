"""The codec's newer types: enum16, sunssf, strings, scale factors by reference, "not implemented"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import CodecError, NotImplementedValueError, Point, ProfileError, decode, encode
from adapters.codec import not_implemented_words

HYPOTHESIS = settings(max_examples=200)


def point(type_: str, **fields) -> Point:
    return Point(name="p", role="p", address=10, type=type_, unit="u", writable=True, **fields)


def test_enum16_accepts_only_its_symbols():
    ena = point("enum16", symbols=(("DISABLED", 0), ("ENABLED", 1)))
    assert encode(ena, 1) == (1,) and decode(ena, (0,)) == 0
    with pytest.raises(CodecError, match=r"point 'p': value 2 is not one of DISABLED=0, ENABLED=1"):
        encode(ena, 2)


def test_sunssf_is_an_exponent_in_minus_ten_to_ten():
    sf = point("sunssf")
    assert encode(sf, -2) == (0xFFFE,) and decode(sf, (0xFFFE,)) == -2
    with pytest.raises(CodecError, match="not an int in -10..10"):
        encode(sf, 11)
    with pytest.raises(CodecError, match="not an int in -10..10"):
        decode(sf, (0x000B,))


@pytest.mark.parametrize(
    ("type_", "scale", "sf", "value", "registers"),
    [
        ("int16", 1, 1, 47840, (4784,)),  # SunSpec W with W_SF = 1: tens of watts
        ("uint16", 1, -2, 50.0, (5000,)),  # Hz with Hz_SF = -2
        ("int16", 0.001, 1, 47.84, (4784,)),  # the same W read as kW through a role multiplier
        ("uint32", 1, 0, 7, (0, 7)),
        ("int16", 1, -3, -0.5, (0xFE0C,)),
    ],
)
def test_scale_factor_by_reference_applies_both_ways(type_, scale, sf, value, registers):
    p = point(type_, scale=scale, scale_factor="p_SF")
    assert encode(p, value, scale_factor=sf) == registers
    assert decode(p, registers, scale_factor=sf) == pytest.approx(value)


def test_scale_factor_must_be_given_exactly_when_referenced():
    scaled, plain = point("int16", scale_factor="W_SF"), point("int16")
    with pytest.raises(CodecError, match="needs the value of its scale factor 'W_SF'"):
        decode(scaled, (1,))
    with pytest.raises(CodecError, match="has no scale factor"):
        encode(plain, 1, scale_factor=0)
    with pytest.raises(CodecError, match="scale factor 12 is not an int"):
        encode(scaled, 1, scale_factor=12)


def test_write_divides_rounds_and_rejects_out_of_range_with_the_scale_factor():
    w = point("int16", scale_factor="W_SF")
    assert encode(w, 12344, scale_factor=1) == (1234,)
    assert encode(w, 12346, scale_factor=1) == (1235,)
    with pytest.raises(CodecError, match=r"value 400000 is out of range for int16 with scale 10 \(-327680..327670\)"):
        encode(w, 400_000, scale_factor=1)


def test_not_implemented_marker_is_refused_both_ways():
    w = point("int16", not_implemented=-0x8000)
    assert not_implemented_words(w) == (0x8000,)
    with pytest.raises(NotImplementedValueError, match="reports it as not implemented"):
        decode(w, (0x8000,))
    with pytest.raises(CodecError, match="'not implemented' marker"):
        encode(w, -0x8000)
    assert not_implemented_words(point("uint32")) == (0, 0)


def test_strings_are_ascii_nul_padded():
    name = point("string", size=4)
    assert encode(name, "SunS") == (0x5375, 0x6E53, 0, 0)
    assert decode(name, (0x5375, 0x6E53, 0, 0)) == "SunS"
    assert decode(name, (0x4100, 0x4242, 0x4343, 0x4444)) == "A"  # text ends at the first NUL
    for bad, problem in [("é", "not ASCII"), ("x" * 9, "longer than 8"), (5, "expects a string"), ("a\0b", "NUL")]:
        with pytest.raises(CodecError, match=problem):
            encode(name, bad)
    with pytest.raises(CodecError, match="non-ASCII"):
        decode(name, (0xFFFF, 0, 0, 0))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": "string"}, "needs 'size'"),
        ({"type": "uint16", "size": 2}, "only a string takes 'size'"),
        ({"type": "string", "size": 2, "scale": 0.1}, "takes no scale"),
        ({"type": "uint16", "symbols": (("A", 1),)}, "only an enum16 takes symbols"),
        ({"type": "sunssf", "scale": 10}, "takes no scale"),
        ({"type": "uint16", "not_implemented": 70000}, "does not fit"),
        ({"type": "float32", "not_implemented": 0}, "needs an integer type"),
    ],
)
def test_invalid_point_definitions_name_point_and_problem(fields, problem):
    with pytest.raises(ProfileError, match=rf"point 'p': .*{problem}"):
        Point(name="p", role="p", address=0, unit="", writable=False, **fields)


@HYPOTHESIS
@given(text=st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=16))
def test_strings_round_trip(text):
    p = point("string", size=8)
    assert decode(p, encode(p, text)) == text


@HYPOTHESIS
@given(
    type_=st.sampled_from(["int16", "uint16", "int32", "uint32"]),
    sf=st.integers(min_value=-4, max_value=4),
    multiplier=st.sampled_from([1, 0.001]),
    data=st.data(),
)
def test_registers_round_trip_through_a_scale_factor(type_, sf, multiplier, data):
    p = point(type_, scale=multiplier, scale_factor="p_SF", word_order=data.draw(st.sampled_from(["big", "little"])))
    registers = tuple(data.draw(st.lists(st.integers(0, 0xFFFF), min_size=p.register_count, max_size=p.register_count)))
    assert encode(p, decode(p, registers, scale_factor=sf), scale_factor=sf) == registers
