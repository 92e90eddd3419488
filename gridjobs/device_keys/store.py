"""Device keys in Postgres, sealed under the master key.

Secrets enter and leave only through these functions, as bytes; rows hold
ciphertext. Errors name devices and versions, never key bytes.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import asyncpg

from gridjobs.errors import ConfigError, NotFound
from gridjobs.device_keys.audit import AuditEntry, record_audit  # noqa: F401  (the store's way in)
from gridjobs.device_keys.errors import KeyConflict, KeyStoreError
from gridjobs.device_keys.master import MasterKey
from gridjobs.device_keys.wrapping import Sealed, seal, unseal, webhook_subject
from gridjobs.store.database import translated
from gridjobs.store.queries import Q

KEY_STATES = ("pending", "active", "previous", "retired", "failed")
USABLE_STATES = ("active", "previous")

Conn = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class KeyRecord:
    version: int
    state: str
    secret: bytes = field(repr=False)


class KeySlot(NamedTuple):
    version: int
    state: str


@dataclass(frozen=True)
class Rewrapped:
    master_version: int
    keys: int


@asynccontextmanager
async def acquired(conn_or_pool: Conn) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            yield conn
    else:
        yield conn_or_pool


async def _claim_master(conn: asyncpg.Connection, master: MasterKey) -> int:
    """The version of `master`, which must be the current one; in the caller's transaction.

    The first master key becomes version 1. Another key takes over only while
    no device key is stored; after that only rotate-master changes it.
    """
    await conn.execute(Q["lock_master_keys"])
    current = await conn.fetchrow(Q["current_master_key"])
    if current is not None and current["fingerprint"] == master.fingerprint:
        return current["version"]
    if current is not None and await conn.fetchval(Q["any_device_key"]):
        raise ConfigError(
            f"master key {master.fingerprint} is not the one the stored device keys are "
            f"wrapped with (version {current['version']}, fingerprint {current['fingerprint']}); "
            "use that key file, or move to a new one with `gridjobs keys rotate-master`")
    version = current["version"] + 1 if current is not None else 1
    await conn.execute(Q["insert_master_key"], version, master.fingerprint)
    return version


@translated
async def register_master(conn_or_pool: Conn, master: MasterKey) -> int:
    """Check `master` against the store at startup; return its version."""
    async with acquired(conn_or_pool) as conn, conn.transaction():
        return await _claim_master(conn, master)


def _check_state(state: str) -> None:
    if state not in KEY_STATES:
        raise KeyStoreError(f"unknown key state {state!r}; expected one of {', '.join(KEY_STATES)}")


def _open(master: MasterKey, row: Mapping[str, Any]) -> bytes:
    device_id, version = row["device_id"], row["version"]
    if row["master_fingerprint"] != master.fingerprint:
        raise KeyStoreError(
            f"key for device {device_id!r} version {version} is wrapped by master key version "
            f"{row['master_version']} ({row['master_fingerprint']}), not by the master key in use "
            f"({master.fingerprint})")
    return unseal(master, device_id, version, Sealed(row["wrapped"], row["nonce"]))


@translated
async def put_key(conn_or_pool: Conn, master: MasterKey, device_id: str, version: int,
                  secret: bytes, state: str = "active") -> bool:
    """Store a key version; True if stored, False if it was already stored with this secret.

    A version names one secret for good: a different secret raises KeyConflict.
    """
    _check_state(state)
    sealed = seal(master, device_id, version, secret)
    async with acquired(conn_or_pool) as conn, conn.transaction():
        master_version = await _claim_master(conn, master)
        stored = await conn.fetchval(Q["insert_device_key"], device_id, version, state,
                                     sealed.wrapped, sealed.nonce, master_version)
        existing = None if stored is not None else await conn.fetchrow(
            Q["get_device_key"], device_id, version)
    if existing is None:
        return True
    if not hmac.compare_digest(_open(master, existing), secret):
        raise KeyConflict(f"device {device_id!r} key version {version} is already stored "
                          "with a different secret; a version's secret never changes")
    return False


@translated
async def get_secret(conn_or_pool: Conn, master: MasterKey, device_id: str, version: int) -> bytes:
    row = await conn_or_pool.fetchrow(Q["get_device_key"], device_id, version)
    if row is None:
        raise NotFound(f"device {device_id!r} has no key version {version}")
    return _open(master, row)


@translated
async def keys_for(conn_or_pool: Conn, master: MasterKey, device_ids: Iterable[str],
                   states: Sequence[str] = USABLE_STATES) -> dict[str, list[KeyRecord]]:
    """Each device's keys in `states`, newest version first (an empty list if none)."""
    for state in states:
        _check_state(state)
    ids = list(dict.fromkeys(device_ids))
    found: dict[str, list[KeyRecord]] = {device_id: [] for device_id in ids}
    for row in await conn_or_pool.fetch(Q["device_keys_in_states"], ids, list(states)):
        found[row["device_id"]].append(KeyRecord(row["version"], row["state"], _open(master, row)))
    return found


@translated
async def set_state(conn_or_pool: Conn, device_id: str, version: int, state: str) -> None:
    _check_state(state)
    if await conn_or_pool.fetchval(Q["set_device_key_state"], device_id, version, state) is None:
        raise NotFound(f"device {device_id!r} has no key version {version}")


async def _set_states(conn_or_pool: Conn, device_id: str, states: dict[int, str]) -> None:
    for state in states.values():
        _check_state(state)
    async with acquired(conn_or_pool) as conn, conn.transaction():
        changed = await conn.fetch(Q["set_device_key_states"], device_id,
                                   list(states), list(states.values()))
        missing = sorted(set(states) - {r["version"] for r in changed})
        if missing:  # raised inside the transaction: nothing changes
            raise NotFound(f"device {device_id!r} has no key version(s) {missing}")


@translated
async def finish_rotation(conn_or_pool: Conn, device_id: str, *, old: int, new: int) -> None:
    """The device confirmed `new` and retired `old`: the store says the same, in one statement."""
    await _set_states(conn_or_pool, device_id, {new: "active", old: "retired"})


@translated
async def abandon_rotation(conn_or_pool: Conn, device_id: str, *, old: int, new: int) -> None:
    """The rotation was rolled back: `old` stays active, `new` is marked failed."""
    await _set_states(conn_or_pool, device_id, {old: "active", new: "failed"})


@translated
async def slots(conn_or_pool: Conn, device_id: str) -> list[KeySlot]:
    """A device's key versions and their states, oldest first; no secrets."""
    rows = await conn_or_pool.fetch(Q["device_key_slots"], device_id)
    return [KeySlot(r["version"], r["state"]) for r in rows]


@translated
async def rewrap_all(pool: asyncpg.Pool, old_master: MasterKey, new_master: MasterKey) -> Rewrapped:
    """Move every device key from `old_master` to `new_master` in one transaction."""
    if old_master.fingerprint == new_master.fingerprint:
        raise ConfigError("the new master key is the same key as the current one")
    async with pool.acquire() as conn, conn.transaction():
        old_version = await _claim_master(conn, old_master)
        rows = await conn.fetch(Q["lock_device_keys"])
        new_version = old_version + 1
        await conn.execute(Q["insert_master_key"], new_version, new_master.fingerprint)
        resealed = [_reseal(old_master, new_master, r) for r in rows]
        await conn.execute(Q["rewrap_device_keys"], new_version,
                           [r["device_id"] for r in rows], [r["version"] for r in rows],
                           [s.wrapped for s in resealed], [s.nonce for s in resealed])
        await _rewrap_webhook_secrets(conn, old_master, new_master, new_version)
    return Rewrapped(new_version, len(rows))


async def _rewrap_webhook_secrets(conn: asyncpg.Connection, old: MasterKey, new: MasterKey,
                                  new_version: int) -> None:
    """Webhook signing secrets are sealed under the master key too: they move with the device keys."""
    rows = await conn.fetch(Q["lock_webhook_secrets"])
    subjects = [webhook_subject(r["endpoint_id"]) for r in rows]
    resealed = [seal(new, subject, r["version"], unseal(old, subject, r["version"], Sealed(r["wrapped"], r["nonce"])))
                for subject, r in zip(subjects, rows)]
    await conn.execute(Q["rewrap_webhook_secrets"], new_version, [r["endpoint_id"] for r in rows],
                       [r["version"] for r in rows], [s.wrapped for s in resealed], [s.nonce for s in resealed])


def _reseal(old: MasterKey, new: MasterKey, row: Mapping[str, Any]) -> Sealed:
    device_id, version = row["device_id"], row["version"]
    secret = unseal(old, device_id, version, Sealed(row["wrapped"], row["nonce"]))
    return seal(new, device_id, version, secret)
