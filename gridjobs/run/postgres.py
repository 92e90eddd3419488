"""The runners' device and firmware ports, backed by Postgres.

(The lease port is `gridjobs.store.leases.Lease`, the key store port
`gridjobs.device_keys.keyring.Keyring`, the shard port `actors.pool.ShardPool`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence
from uuid import UUID

import asyncpg

from gridjobs.firmware.artifacts import get_artifact, read_range
from gridjobs.records import Device, FirmwareArtifact
from gridjobs.scope import Scope, resolve_scope
from gridjobs.store.devices import devices_by_ids


@dataclass(frozen=True)
class PgDevices:
    pool: asyncpg.Pool

    async def in_scope(self, scope: Scope) -> list[Device]:
        return await resolve_scope(self.pool, scope)

    async def by_ids(self, device_ids: Sequence[str]) -> list[Device]:
        return await devices_by_ids(self.pool, device_ids)


@dataclass(frozen=True)
class PgFirmware:
    pool: asyncpg.Pool

    async def artifact(self, artifact_id: UUID) -> FirmwareArtifact:
        return await get_artifact(self.pool, artifact_id)

    async def read(self, artifact_id: UUID, offset: int, length: int) -> bytes:
        return await read_range(self.pool, artifact_id, offset, length)
