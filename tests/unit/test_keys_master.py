"""The master key file: private or refused, created 0600, never shown."""

from __future__ import annotations

import os
import stat

import pytest

from gridjobs.errors import ConfigError
from gridjobs.device_keys.master import MasterKey, ensure_master_key, load_master_key
from tests.secrets_scan import assert_no_secret


def _key_file(path, mode=0o600, size=32):
    path.write_bytes(os.urandom(size))
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path, mode):
    path = _key_file(tmp_path / "master.key", mode)
    with pytest.raises(ConfigError) as caught:
        load_master_key(path)
    assert str(path) in caught.value.detail
    assert f"mode {mode:04o}" in caught.value.detail and "chmod 600" in caught.value.detail


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_loads(tmp_path, mode):
    path = _key_file(tmp_path / "master.key", mode)
    assert load_master_key(path).material == path.read_bytes()


def test_a_missing_key_file_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_master_key(tmp_path / "nope.key")
    assert "nope.key" in caught.value.detail


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_key_file_of_the_wrong_size_is_refused(tmp_path, size):
    with pytest.raises(ConfigError, match="exactly 32"):
        load_master_key(_key_file(tmp_path / "master.key", size=size))


def test_ensure_creates_a_0600_key_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        key = ensure_master_key(tmp_path / "data" / "master.key")
    finally:
        os.umask(previous)
    path = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == key.material and len(key.material) == 32
    assert list(path.parent.iterdir()) == [path], "a temporary file was left behind"


def test_ensure_keeps_an_existing_key_and_still_checks_its_mode(tmp_path):
    first = ensure_master_key(tmp_path / "master.key")
    assert ensure_master_key(tmp_path / "master.key").material == first.material
    (tmp_path / "master.key").chmod(0o644)
    with pytest.raises(ConfigError, match="0644"):
        ensure_master_key(tmp_path / "master.key")


def test_a_master_key_never_shows_its_bytes(tmp_path):
    key = ensure_master_key(tmp_path / "master.key")
    shown = [repr(key), str(key), f"{key}", repr([key]), repr({"k": key})]
    assert_no_secret(shown, [key.material])
    assert key.fingerprint in repr(key) and len(key.fingerprint) == 16


def test_fingerprints_tell_keys_apart():
    a, b = MasterKey(b"a" * 32), MasterKey(b"b" * 32)
    assert a.fingerprint != b.fingerprint and a.fingerprint == MasterKey(b"a" * 32).fingerprint
