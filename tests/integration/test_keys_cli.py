"""`gridjobs serve` refuses a bad master key fast; `gridjobs keys …` as a subprocess."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys

import asyncpg
import pytest

from gridjobs.device_keys import store
from gridjobs.device_keys.errors import KeyStoreError
from gridjobs.device_keys.master import MasterKey
from tests.secrets_scan import assert_no_secret

FAIL_FAST_S = 60  # imports only: no Postgres, no Ray


def gridjobs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDJOBS_")}
    return subprocess.run([sys.executable, "-m", "gridjobs", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def _private(path, data: bytes, mode: int = 0o600):
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _keys_file(path, keys: dict[tuple[str, int], bytes]):
    entries = [{"device_id": d, "version": v, "secret_b64": base64.b64encode(s).decode()}
               for (d, v), s in keys.items()]
    return _private(path, json.dumps(entries).encode())


def test_serve_refuses_a_key_file_open_to_others_before_starting_anything(tmp_path):
    key = _private(tmp_path / "master.key", os.urandom(32), 0o644)
    done = gridjobs("serve", "--master-key-file", str(key), "--data-dir", str(tmp_path / "data"),
                    timeout=FAIL_FAST_S)
    assert done.returncode == 2
    assert f"{key} is readable by group or others (mode 0644); chmod 600 it" in done.stderr
    assert not (tmp_path / "data" / "pg").exists(), "PostgreSQL was started"
    assert_no_secret([done.stdout, done.stderr], [key.read_bytes()])


def test_serve_with_an_external_database_needs_a_key_file(tmp_path):
    done = gridjobs("serve", "--database-url", "postgresql://127.0.0.1:1/none", timeout=FAIL_FAST_S)
    assert done.returncode == 2
    assert "GRIDJOBS_MASTER_KEY_FILE" in done.stderr


async def test_provision_then_rotate_the_master_key(db_url, tmp_path):
    master = _private(tmp_path / "master.key", os.urandom(32))
    keys = {(f"dev-{i}", 1): os.urandom(16) for i in range(3)}
    flags = ["--database-url", db_url, "--master-key-file", str(master)]
    outputs = []
    first = gridjobs("keys", "provision", str(_keys_file(tmp_path / "k.json", keys)), *flags)
    again = gridjobs("keys", "provision", str(tmp_path / "k.json"), *flags)
    clash = {("dev-0", 1): os.urandom(16)}
    refused = gridjobs("keys", "provision", str(_keys_file(tmp_path / "c.json", clash)), *flags)
    outputs += [p.stdout + p.stderr for p in (first, again, refused)]
    assert first.returncode == 0, first.stderr
    assert "3 stored, 0 already present" in first.stdout
    assert "0 stored, 3 already present" in again.stdout
    assert refused.returncode == 2 and "dev-0" in refused.stderr

    new_key = tmp_path / "new.key"
    rotated = gridjobs("keys", "rotate-master", "--new-key-file", str(new_key), *flags)
    slots = gridjobs("keys", "slots", "dev-1", "--database-url", db_url,
                     "--master-key-file", str(new_key))
    outputs += [p.stdout + p.stderr for p in (rotated, slots)]
    assert rotated.returncode == 0, rotated.stderr
    assert "rewrapped 3 device keys under master key version 2" in rotated.stdout
    assert stat.S_IMODE(new_key.stat().st_mode) == 0o600
    assert slots.stdout.split() == ["1", "active"]

    old, new = MasterKey(master.read_bytes()), MasterKey(new_key.read_bytes())
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=1)
    try:
        for (device_id, version), secret in keys.items():
            assert await store.get_secret(pool, new, device_id, version) == secret
        with pytest.raises(KeyStoreError):
            await store.get_secret(pool, old, "dev-0", 1)
    finally:
        await pool.close()
    assert_no_secret(outputs, [*keys.values(), *clash.values(), old.material, new.material])


@pytest.mark.slow
def test_provision_uses_the_embedded_database_and_its_default_key(tmp_path):
    keys = {("dev-1", 1): os.urandom(16)}
    data = tmp_path / "data"
    done = gridjobs("keys", "provision", str(_keys_file(tmp_path / "k.json", keys)),
                    "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "1 stored" in done.stdout
    assert stat.S_IMODE((data / "master.key").stat().st_mode) == 0o600
    listed = gridjobs("keys", "slots", "dev-1", "--data-dir", str(data))
    assert listed.stdout.split() == ["1", "active"]
    assert_no_secret([done.stdout, done.stderr, listed.stdout, listed.stderr],
                     [*keys.values(), (data / "master.key").read_bytes()])
