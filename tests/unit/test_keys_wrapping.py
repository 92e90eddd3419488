"""Sealing secrets: round trip, bound to the row, wrong master refused cleanly."""

from __future__ import annotations

import os

import pytest

from gridjobs.device_keys.errors import KeyStoreError
from gridjobs.device_keys.master import MasterKey
from gridjobs.device_keys.store import KeyRecord
from gridjobs.device_keys.wrapping import Sealed, seal, unseal
from tests.secrets_scan import assert_no_secret

MASTER = MasterKey(os.urandom(32))
SECRET = os.urandom(16)


def test_a_sealed_secret_opens_for_its_own_row():
    sealed = seal(MASTER, "dev-1", 3, SECRET)
    assert SECRET not in sealed.wrapped and len(sealed.nonce) == 12
    assert unseal(MASTER, "dev-1", 3, sealed) == SECRET


def test_each_seal_uses_a_fresh_nonce():
    assert seal(MASTER, "dev-1", 3, SECRET).nonce != seal(MASTER, "dev-1", 3, SECRET).nonce


@pytest.mark.parametrize("device_id, version", [("dev-2", 3), ("dev-1", 4), ("dev-1:3", 3)])
def test_a_sealed_secret_does_not_open_for_another_row(device_id, version):
    sealed = seal(MASTER, "dev-1", 3, SECRET)
    with pytest.raises(KeyStoreError, match="does not decrypt") as caught:
        unseal(MASTER, device_id, version, sealed)
    assert caught.value.__cause__ is None
    assert_no_secret([str(caught.value), repr(caught.value)], [SECRET, MASTER.material])


def test_another_master_key_cannot_open_it():
    sealed = seal(MASTER, "dev-1", 3, SECRET)
    with pytest.raises(KeyStoreError):
        unseal(MasterKey(os.urandom(32)), "dev-1", 3, sealed)


def test_a_tampered_ciphertext_is_refused():
    sealed = seal(MASTER, "dev-1", 3, SECRET)
    flipped = bytes([sealed.wrapped[0] ^ 1]) + sealed.wrapped[1:]
    with pytest.raises(KeyStoreError):
        unseal(MASTER, "dev-1", 3, Sealed(flipped, sealed.nonce))


@pytest.mark.parametrize("secret", [b"", b"x" * 1025, "text"])
def test_a_secret_must_be_1_to_1024_bytes(secret):
    with pytest.raises(KeyStoreError, match="1 to 1024 bytes"):
        seal(MASTER, "dev-1", 1, secret)


def test_records_hide_their_secret():
    record = KeyRecord(2, "active", SECRET)
    assert_no_secret([repr(record), str(record), repr(seal(MASTER, "d", 1, SECRET))], [SECRET])
    assert "active" in repr(record)
