"""AuthKey, the MAC of a critical write, and key wrapping: pure, no device."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pytest

from adapters import AuthKey, wrap_key
from adapters.auth_key import auth_message, unwrap_key

SECRET = bytes(range(32))
OTHER = bytes(range(32, 64))


def test_repr_and_str_show_the_version_only():
    key = AuthKey(3, SECRET)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert text.count("AuthKey(version=3)") == 1 and SECRET.hex() not in text and "secret" not in text


def test_keys_pickle_and_stay_frozen():
    key = AuthKey(3, SECRET)
    assert pickle.loads(pickle.dumps(key)) == key
    with pytest.raises(AttributeError):
        key.version = 4


@pytest.mark.parametrize(("version", "secret"), [(0, SECRET), (65536, SECRET), (True, SECRET), (1, SECRET[:16]),
                                                 (1, "x" * 32)])
def test_invalid_keys_are_refused_without_showing_the_secret(version, secret):
    with pytest.raises(ValueError) as info:
        AuthKey(version, secret)
    assert SECRET.hex() not in str(info.value) and repr(SECRET[:16]) not in str(info.value)


def test_mac_covers_challenge_unit_address_count_and_words():
    message = auth_message(challenge=0x01020304, unit_id=7, address=80, words=(1, 0xABCD))
    assert message == bytes([1, 2, 3, 4, 7, 0, 80, 0, 2, 0, 1, 0xAB, 0xCD])
    key = AuthKey(1, SECRET)
    mac = key.mac(challenge=0x01020304, unit_id=7, address=80, words=(1, 0xABCD))
    assert mac == hmac.new(SECRET, message, hashlib.sha256).digest()
    assert key.verifies(mac, challenge=0x01020304, unit_id=7, address=80, words=(1, 0xABCD))
    for changed in ({"challenge": 5}, {"unit_id": 8}, {"address": 81}, {"words": (1, 0xABCE)}):
        fields = {"challenge": 0x01020304, "unit_id": 7, "address": 80, "words": (1, 0xABCD), **changed}
        assert not key.verifies(mac, **fields)


def test_a_wrapped_key_unwraps_only_under_its_wrapping_key():
    old, new = AuthKey(1, SECRET), AuthKey(2, OTHER)
    wrapped = wrap_key(new, under=old)
    assert len(wrapped) == 40 and OTHER not in wrapped
    assert unwrap_key(wrapped, version=2, under=old) == new
    with pytest.raises(ValueError) as info:
        unwrap_key(wrapped, version=2, under=AuthKey(1, OTHER))
    assert OTHER.hex() not in str(info.value) and SECRET.hex() not in str(info.value)
