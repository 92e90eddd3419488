"""The request hash's canonical text is json.dumps's, byte for byte, whichever encoder made
it: a key accepted before must keep matching its retries."""

from __future__ import annotations

import json
import math
import random
import struct

import pytest

from gridjobs.intake import canonical_json, request_hash


def _reference(body) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


TRICKY = [
    {"kind": "load_shed", "params": {"target_kw": 25.0, "scope": {"feeders": ["F1"]}}, "priority": 0},
    1e-05, 4.285848286438534e-08, 1e-4, 0.0001234, 1e16, 1e22, 1.5e300, 5e-324, -0.0, 0.1,
    2**63 - 1, -2**63, 2**64, 10**30, "a\x7fb", "\x01\n\t\"\\/\b\f", "é", "日本", "\u2028",
    {"b": 1, "a": {"d": [1, 2.5, None, True], "c": "x"}}, {"é": 1, "e": 2}, [], {}, "",
]


@pytest.mark.parametrize("body", TRICKY, ids=repr)
def test_tricky_values_give_json_dumps_text(body):
    assert canonical_json(body) == _reference(body)


def test_random_floats_and_characters_give_json_dumps_text():
    rng = random.Random(20261206)
    for _ in range(20_000):
        r = rng.random()
        if r < 0.3:
            x = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        elif r < 0.6:
            x = rng.random() * 10.0 ** rng.randint(-300, 300)
        else:
            x = round(rng.uniform(-1e6, 1e6), rng.randint(0, 8))
        if math.isfinite(x):
            body = {"x": [x, -x], "s": chr(rng.randrange(0x20, 0x3000))}
            assert canonical_json(body) == _reference(body), body


def test_the_hash_is_of_that_text():
    import hashlib
    body = TRICKY[0]
    assert request_hash(body) == hashlib.sha256(_reference(body)).hexdigest()
