"""A process's view of the key store: the pool and the master key, bound once.

`Runtime.keys` is one of these; the functions in gridjobs.keys.store remain
the way in for code that holds a connection in a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from gridjobs.keys import store
from gridjobs.keys.master import MasterKey


@dataclass(frozen=True)
class Keyring:
    pool: asyncpg.Pool
    master: MasterKey
    master_version: int

    async def put(self, device_id: str, version: int, secret: bytes, state: str = "active") -> bool:
        return await store.put_key(self.pool, self.master, device_id, version, secret, state)

    async def secret(self, device_id: str, version: int) -> bytes:
        return await store.get_secret(self.pool, self.master, device_id, version)

    async def for_devices(self, device_ids: Iterable[str],
                          states: Sequence[str] = store.USABLE_STATES) -> dict[str, list[store.KeyRecord]]:
        return await store.keys_for(self.pool, self.master, device_ids, states)

    async def set_state(self, device_id: str, version: int, state: str) -> None:
        await store.set_state(self.pool, device_id, version, state)

    async def slots(self, device_id: str) -> list[store.KeySlot]:
        return await store.slots(self.pool, device_id)


async def open_keyring(pool: asyncpg.Pool, master: MasterKey) -> Keyring:
    """Check the master key against the store (ConfigError on a mismatch) and bind it."""
    return Keyring(pool, master, await store.register_master(pool, master))
