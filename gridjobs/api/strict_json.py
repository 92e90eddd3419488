"""Decoding untrusted JSON so that every reader of the bytes reads the same values.

`loads` accepts UTF-8 JSON (RFC 8259) and refuses, with BadRequest, what
`json.loads` would accept or choke on:

- nesting deeper than MAX_DEPTH, measured on the text before the parser
  recurses (a RecursionError is no answer to a client);
- an object with the same key twice, at any depth: a proxy that keeps the first
  value and gridjobs the last must never disagree;
- an integer of more than MAX_INTEGER_DIGITS digits (Python refuses to convert
  past 4,300 of them, and no field holds more than 20);
- NaN and Infinity, which are not JSON.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

from gridjobs.errors import BadRequest, quoted

MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 100

# A string, or an unterminated one up to the end: always a match, so never a rescan.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_LONG_NUMBER = re.compile(rb"[0-9]{20}")
_CHECK = object()   # _fast's "ask the checked path"


def loads(data: bytes, *, what: str = "request body") -> Any:
    value = _fast(data)
    return checked_loads(data, what=what) if value is _CHECK else value


def checked_loads(data: bytes, *, what: str = "request body") -> Any:
    """`loads`, every rule checked on the text itself (`loads` takes a faster way where it
    gives the same value)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{what} is not UTF-8 JSON: {exc.reason} at byte {exc.start}") from exc
    if nesting_depth(text) > MAX_DEPTH:
        raise BadRequest(f"{what} nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer,
                          parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON ({exc.msg}: line {exc.lineno}, "
                         f"column {exc.colno})") from exc


def _fast(data: bytes) -> Any:
    """orjson's reading of `data` where it is provably the checked one below; else _CHECK.

    orjson refuses everything the checked reading refuses (bad UTF-8, NaN, control
    characters in strings) and more (lone surrogates, numbers that overflow to
    infinity, both of which json.loads reads), so any refusal goes the checked way,
    which words the error or reads the value. Where orjson reads a value: an integer
    of 20 digits or more may not fit the 64 bits it keeps exactly; a key given twice
    leaves fewer members than the text has colons (a colon inside a string has the
    same effect: checked, to be sure); and the depth is measured on the value.
    """
    if _LONG_NUMBER.search(data):
        return _CHECK
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _CHECK
    members = _members(value, 0)
    return value if members is not None and members == data.count(b":") else _CHECK


def _members(value: Any, depth: int) -> int | None:
    """How many object members `value` holds at any depth; None if it nests deeper than MAX_DEPTH."""
    if isinstance(value, dict):
        items: Any = value.values()
        total = len(value)
    elif isinstance(value, list):
        items, total = value, 0
    else:
        return 0
    if depth >= MAX_DEPTH:
        return None
    for item in items:
        inner = _members(item, depth + 1)
        if inner is None:
            return None
        total += inner
    return total


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, brackets inside strings aside.

    On valid JSON this is exact; on invalid JSON it never undercounts the part
    a parser reads before it fails.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise BadRequest(f"duplicate key {quoted(duplicate)} in a JSON object")
    return obj


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BadRequest(f"a JSON integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(digits)


def _constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON value")
