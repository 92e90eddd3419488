"""The key store on a real Postgres: sealed rows, bound to their row, master rotation."""

from __future__ import annotations

import io
import json
import os

import asyncpg
import pytest
import structlog

from gridjobs import logs
from gridjobs.errors import ConfigError, GridjobsError, NotFound
from gridjobs.device_keys import store
from gridjobs.device_keys.errors import KeyConflict, KeyStoreError
from gridjobs.device_keys.master import MasterKey
from gridjobs.runtime import open_runtime
from tests.secrets_scan import assert_no_secret
from tests.support import test_settings as settings_for


@pytest.fixture
def master():
    return MasterKey(os.urandom(32))


async def test_put_then_get_round_trips_and_the_row_holds_no_plaintext(pool, master):
    secret = os.urandom(32)
    assert await store.put_key(pool, master, "dev-1", 1, secret, "active") is True
    assert await store.get_secret(pool, master, "dev-1", 1) == secret
    row = await pool.fetchrow("SELECT * FROM device_keys WHERE device_id = 'dev-1'")
    assert secret not in bytes(row["wrapped"]) and row["master_version"] == 1
    assert await pool.fetchval("SELECT fingerprint FROM master_keys WHERE version = 1") == master.fingerprint


async def test_put_is_idempotent_and_a_different_secret_is_a_conflict(pool, master):
    secret, other = os.urandom(16), os.urandom(16)
    await store.put_key(pool, master, "dev-1", 1, secret, "active")
    assert await store.put_key(pool, master, "dev-1", 1, secret, "active") is False
    with pytest.raises(KeyConflict) as caught:
        await store.put_key(pool, master, "dev-1", 1, other, "active")
    assert_no_secret([caught.value.detail, repr(caught.value)], [secret, other])
    assert await store.get_secret(pool, master, "dev-1", 1) == secret


async def test_a_ciphertext_moved_to_another_row_fails_cleanly(pool, master):
    secret = os.urandom(16)
    await store.put_key(pool, master, "dev-a", 1, secret, "active")
    await store.put_key(pool, master, "dev-b", 1, os.urandom(16), "active")
    await pool.execute("""UPDATE device_keys b SET wrapped = a.wrapped, nonce = a.nonce
                          FROM device_keys a WHERE a.device_id = 'dev-a' AND b.device_id = 'dev-b'""")
    with pytest.raises(KeyStoreError, match="dev-b") as caught:
        await store.get_secret(pool, master, "dev-b", 1)
    assert isinstance(caught.value, GridjobsError)
    assert_no_secret([caught.value.detail, repr(caught.value)], [secret, master.material])


async def test_keys_for_returns_usable_keys_newest_first(pool, master):
    secrets = {v: os.urandom(16) for v in (1, 2, 3)}
    for version, state in ((1, "retired"), (2, "previous"), (3, "active")):
        await store.put_key(pool, master, "dev-1", version, secrets[version], state)
    found = await store.keys_for(pool, master, ["dev-1", "dev-none"])
    assert [(k.version, k.state, k.secret) for k in found["dev-1"]] == [
        (3, "active", secrets[3]), (2, "previous", secrets[2])]
    assert found["dev-none"] == []
    pending = await store.keys_for(pool, master, ["dev-1"], states=("retired",))
    assert [k.version for k in pending["dev-1"]] == [1]


async def test_set_state_and_slots_show_versions_without_secrets(pool, master):
    await store.put_key(pool, master, "dev-1", 1, os.urandom(16), "active")
    await store.put_key(pool, master, "dev-1", 2, os.urandom(16), "pending")
    await store.set_state(pool, "dev-1", 1, "previous")
    assert await store.slots(pool, "dev-1") == [(1, "previous"), (2, "pending")]
    with pytest.raises(NotFound):
        await store.set_state(pool, "dev-1", 9, "active")
    with pytest.raises(KeyStoreError, match="unknown key state"):
        await store.set_state(pool, "dev-1", 1, "bogus")


async def test_finishing_or_abandoning_a_rotation_sets_both_versions(pool, master):
    for device_id in ("dev-1", "dev-2"):
        await store.put_key(pool, master, device_id, 1, os.urandom(16), "active")
        await store.put_key(pool, master, device_id, 2, os.urandom(16), "pending")
    await store.finish_rotation(pool, "dev-1", old=1, new=2)
    await store.abandon_rotation(pool, "dev-2", old=1, new=2)
    assert await store.slots(pool, "dev-1") == [(1, "retired"), (2, "active")]
    assert await store.slots(pool, "dev-2") == [(1, "active"), (2, "failed")]
    with pytest.raises(NotFound, match=r"\[3\]"):
        await store.finish_rotation(pool, "dev-1", old=2, new=3)
    assert await store.slots(pool, "dev-1") == [(1, "retired"), (2, "active")]


async def test_rewrap_all_moves_every_key_to_the_new_master(pool, master):
    secrets = {f"dev-{i}": os.urandom(16) for i in range(5)}
    for device_id, secret in secrets.items():
        await store.put_key(pool, master, device_id, 1, secret, "active")
    new = MasterKey(os.urandom(32))
    done = await store.rewrap_all(pool, master, new)
    assert (done.master_version, done.keys) == (2, 5)
    assert await pool.fetchval("SELECT array_agg(DISTINCT master_version) FROM device_keys") == [2]
    for device_id, secret in secrets.items():
        assert await store.get_secret(pool, new, device_id, 1) == secret
    with pytest.raises(KeyStoreError, match="not by the master key in use"):
        await store.get_secret(pool, master, "dev-0", 1)
    with pytest.raises(ConfigError):  # the old key can no longer write either
        await store.put_key(pool, master, "dev-9", 1, os.urandom(16))


async def test_rewrap_with_the_wrong_old_master_changes_nothing(pool, master):
    await store.put_key(pool, master, "dev-1", 1, os.urandom(16), "active")
    with pytest.raises(ConfigError):
        await store.rewrap_all(pool, MasterKey(os.urandom(32)), MasterKey(os.urandom(32)))
    with pytest.raises(ConfigError, match="same key"):
        await store.rewrap_all(pool, master, master)
    assert await pool.fetchval("SELECT count(*) FROM master_keys") == 1


async def test_a_foreign_master_key_is_refused_at_startup_once_keys_exist(db_url, tmp_path, master):
    foreign = tmp_path / "foreign.key"
    foreign.write_bytes(os.urandom(32))
    foreign.chmod(0o600)
    async with open_runtime(settings_for(db_url, master_key_file=foreign), execute=False) as rt:
        assert rt.keyring.master_version == 1  # nothing stored yet: the first key is adopted
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=1)
    try:
        await store.put_key(pool, master, "dev-1", 1, os.urandom(16))  # no keys yet: adopts v2
    finally:
        await pool.close()
    with pytest.raises(ConfigError, match="rotate-master"):
        async with open_runtime(settings_for(db_url, master_key_file=foreign), execute=False):
            pass


async def test_runtime_keyring_binds_the_pool_and_master(db_url, tmp_path):
    path = tmp_path / "master.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    secret = os.urandom(16)
    async with open_runtime(settings_for(db_url, master_key_file=path), execute=False) as rt:
        assert rt.keyring.master.material == path.read_bytes()
        assert await rt.keyring.put("dev-1", 4, secret) is True
        assert await store.get_secret(rt.pool, rt.keyring.master, "dev-1", 4) == secret
        assert [k.secret for k in (await rt.keyring.held(["dev-1"]))["dev-1"]] == [secret]
    async with open_runtime(settings_for(db_url), execute=False) as rt:
        assert rt.keyring is None


async def test_no_secret_reaches_logs_or_errors(db_url, tmp_path):
    stream = io.StringIO()
    logs.configure(stream=stream, level="debug")
    path, new_path = tmp_path / "master.key", tmp_path / "new.key"
    for p in (path, new_path):
        p.write_bytes(os.urandom(32))
        p.chmod(0o600)
    secrets = [os.urandom(24) for _ in range(4)]
    texts: list[str] = []
    try:
        async with open_runtime(settings_for(db_url, master_key_file=path), execute=False) as rt:
            for i, secret in enumerate(secrets):
                await rt.keyring.put(f"dev-{i}", 1, secret)
            texts.append(repr(await rt.keyring.held([f"dev-{i}" for i in range(4)])))
            texts.append(repr(rt.keyring))
            for attempt in (rt.keyring.put("dev-0", 1, secrets[1]), store.get_secret(rt.pool, rt.keyring.master, "dev-9", 1),
                            store.get_secret(rt.pool, MasterKey(os.urandom(32)), "dev-0", 1)):
                with pytest.raises(GridjobsError) as caught:
                    await attempt
                texts += [caught.value.detail, repr(caught.value), json.dumps(caught.value.extra)]
            new = MasterKey(new_path.read_bytes())
            texts.append(repr(await store.rewrap_all(rt.pool, rt.keyring.master, new)))
    finally:
        structlog.reset_defaults()
    texts.append(stream.getvalue())
    assert "master_key_loaded" in stream.getvalue()
    assert_no_secret(texts, [*secrets, path.read_bytes(), new_path.read_bytes()])
