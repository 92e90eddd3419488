"""Reading a keys file: private, well-formed, and errors that never show a secret."""

from __future__ import annotations

import base64
import json
import os

import pytest

from gridjobs.errors import ConfigError, ValidationFailed
from gridjobs.device_keys.provisioning import read_keys_file
from tests.secrets_scan import assert_no_secret

SECRET = os.urandom(16)


def _write(path, entries, mode=0o600):
    path.write_text(json.dumps(entries))
    path.chmod(mode)
    return path


def _entry(device_id="dev-1", version=1, secret=SECRET):
    return {"device_id": device_id, "version": version,
            "secret_b64": base64.b64encode(secret).decode()}


def test_a_keys_file_is_read(tmp_path):
    other = os.urandom(32)
    keys = read_keys_file(_write(tmp_path / "k.json", [_entry(), _entry("dev-2", 7, other)]))
    assert [(k.device_id, k.version, k.secret) for k in keys] == [
        ("dev-1", 1, SECRET), ("dev-2", 7, other)]
    assert_no_secret([repr(keys)], [SECRET, other])


def test_a_keys_file_open_to_others_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="chmod 600"):
        read_keys_file(_write(tmp_path / "k.json", [_entry()], mode=0o644))


def test_an_exact_duplicate_is_kept_once_and_a_clash_refused(tmp_path):
    assert len(read_keys_file(_write(tmp_path / "a.json", [_entry(), _entry()]))) == 1
    clash = [_entry(), _entry(secret=os.urandom(16))]
    with pytest.raises(ValidationFailed, match="twice") as caught:
        read_keys_file(_write(tmp_path / "b.json", clash))
    assert_no_secret([caught.value.detail], [SECRET])


@pytest.mark.parametrize("bad, message", [
    ({"device_id": "d", "version": 1}, "exactly"),
    ({**_entry(), "extra": 1}, "exactly"),
    ({**_entry(), "device_id": ""}, "device_id"),
    ({**_entry(), "version": -1}, "version"),
    ({**_entry(), "version": True}, "version"),
    ({**_entry(), "secret_b64": base64.b64encode(SECRET).decode()[:-3] + "!!!"}, "secret_b64"),
    ({**_entry(), "secret_b64": ""}, "secret_b64"),
])
def test_a_bad_entry_is_refused_without_its_secret(tmp_path, bad, message):
    with pytest.raises(ValidationFailed, match=message) as caught:
        read_keys_file(_write(tmp_path / "k.json", [_entry("dev-0"), bad]))
    assert "entry 1" in caught.value.detail
    assert_no_secret([caught.value.detail], [SECRET])


def test_a_file_that_is_not_a_list_is_refused(tmp_path):
    with pytest.raises(ValidationFailed, match="JSON list"):
        read_keys_file(_write(tmp_path / "k.json", {"device_id": "d"}))
    with pytest.raises(ValidationFailed, match="cannot read"):
        read_keys_file(tmp_path / "missing.json")
