"""strict_json.loads reads with orjson where that gives the checked reading's value, type
for type, and goes the checked way for everything else: same values, same refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from gridjobs.api.strict_json import MAX_DEPTH, checked_loads, loads
from gridjobs.errors import BadRequest


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


def _outcome(read, data: bytes):
    try:
        return "value", read(data)
    except BadRequest as exc:
        return "refused", exc.detail


def _check(data: bytes) -> None:
    fast, slow = _outcome(loads, data), _outcome(checked_loads, data)
    assert fast[0] == slow[0], (data, fast, slow)
    assert _same(fast[1], slow[1]) if fast[0] == "value" else fast[1] == slow[1], (data, fast, slow)


CASES = [
    b'{"kind":"load_shed","params":{"target_kw":25.0,"scope":{"feeders":["F1"]}},"priority":0}',
    b'-0', b'0', b'1e400', b'-1e400', b'1.5E+3', b'0.1e-400', b'1e-7', b'12345678901234567890',
    b'18446744073709551615', b'18446744073709551616', b'9' * 101, b'-' + b'9' * 30,
    b'{"a":1,"a":2}', b'{"a":1,"b":{"a":1,"a":"x"}}', b'{"a:b":1}', b'{"a":"12:00"}',
    b'"\\ud800"', b'"\\ud83d\\ude00"', b'"\\u0000"', b'"\x7f"', b'"\x1f"', b'[1,]', b'nul',
    b'NaN', b'Infinity', b'-Infinity', b'{"a":NaN}', b'\xef\xbb\xbf{}', b'\xff', b'"\xc3"',
    b' \t\n{"a" : 1 }\r\n', b'{"a":1}x', b'', b' ', b'[]', b'{}', b'"x"', b'true', b'null',
    b'[' * MAX_DEPTH + b']' * MAX_DEPTH, b'[' * (MAX_DEPTH + 1) + b']' * (MAX_DEPTH + 1),
    b'{"a":' * MAX_DEPTH + b'1' + b'}' * MAX_DEPTH, b'[' * 2000 + b']' * 2000,
    b'[' * (MAX_DEPTH - 1) + b'{}' + b']' * (MAX_DEPTH - 1),
    b'[' * MAX_DEPTH + b'{}' + b']' * MAX_DEPTH,
]


@pytest.mark.parametrize("data", CASES, ids=lambda d: repr(d[:40]))
def test_tricky_texts_read_as_the_checked_reading_does(data):
    _check(data)


_scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**25), max_value=10**25)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=4), inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_values, st.sampled_from([(",", ":"), (", ", ": "), (",", " : ")]),
       st.booleans())
def test_generated_documents_read_as_the_checked_reading_does(value, separators, ascii_only):
    data = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    _check(data)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=3), _scalars, min_size=1, max_size=4), st.data())
def test_a_key_given_twice_is_refused_either_way(obj, data):
    key = data.draw(st.sampled_from(sorted(obj)))
    text = json.dumps(obj)[:-1] + ", " + json.dumps(key) + ": 1}"
    _check(text.encode("utf-8", "surrogatepass"))
    with pytest.raises(BadRequest, match="duplicate key"):
        loads(text.encode("utf-8", "surrogatepass"))


def test_a_plain_submission_takes_the_fast_way():
    from gridjobs.api import strict_json
    assert strict_json._fast(CASES[0]) is not strict_json._CHECK
    assert strict_json._fast(b'{"a":1,"a":2}') is strict_json._CHECK
