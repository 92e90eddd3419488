"""A process's view of the key store: the pool and the master key, bound once.

`Runtime.keyring` is one of these, and it is the runners' key store port. The
functions in gridjobs.device_keys.store remain the way in for code that holds
a connection in a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from gridjobs.device_keys import store
from gridjobs.device_keys.audit import AuditEntry, record_audit
from gridjobs.device_keys.master import MasterKey


@dataclass(frozen=True)
class Keyring:
    pool: asyncpg.Pool
    master: MasterKey
    master_version: int

    async def held(self, device_ids: Iterable[str],
                   states: Sequence[str] = store.USABLE_STATES) -> dict[str, list[store.KeyRecord]]:
        return await store.keys_for(self.pool, self.master, device_ids, states)

    async def put(self, device_id: str, version: int, secret: bytes, state: str = "active") -> bool:
        return await store.put_key(self.pool, self.master, device_id, version, secret, state)

    async def finish_rotation(self, device_id: str, *, old: int, new: int) -> None:
        await store.finish_rotation(self.pool, device_id, old=old, new=new)

    async def abandon_rotation(self, device_id: str, *, old: int, new: int) -> None:
        await store.abandon_rotation(self.pool, device_id, old=old, new=new)

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        await record_audit(self.pool, entries)


async def open_keyring(pool: asyncpg.Pool, master: MasterKey) -> Keyring:
    """Check the master key against the store (ConfigError on a mismatch) and bind it."""
    return Keyring(pool, master, await store.register_master(pool, master))
