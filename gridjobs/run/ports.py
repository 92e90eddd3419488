"""The ports a runner reaches the world through. Each is a protocol with a
Postgres/Ray implementation (`gridjobs.run.pg`) and an in-memory one
(`gridjobs.testing`).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterable, Protocol, Sequence
from uuid import UUID

from actors.tasks import DeviceResult, DeviceTask
from adapters import AuthKey
from gridjobs.device_keys.audit import AuditEntry
from gridjobs.device_keys.store import KeyRecord
from gridjobs.records import Device, FirmwareArtifact, Outcome
from gridjobs.scope import Scope
from gridjobs.states import Status
from gridjobs.store.leases import Beat


class LeasePort(Protocol):
    """The claim on one operation. Every write is fenced: a runner whose lease was
    taken over gets StaleLeaseError instead of overwriting the new owner."""

    @property
    def fence(self) -> int: ...

    @property
    def lease_s(self) -> float: ...

    async def heartbeat(self) -> Beat: ...

    async def finish(self, status: Status, *, result: dict[str, Any] | None,
                     error_code: str | None = None, error_detail: str | None = None) -> None: ...

    async def release(self) -> None: ...

    async def outcomes(self) -> list[Outcome]: ...

    async def record(self, outcomes: Sequence[Outcome]) -> None: ...

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...

    async def pause(self) -> None: ...

    async def unpause(self) -> None: ...

    async def event(self, type: str, data: dict[str, Any]) -> None: ...


class DevicePort(Protocol):
    """The device registry, read-only."""

    async def in_scope(self, scope: Scope) -> list[Device]: ...

    async def by_ids(self, device_ids: Sequence[str]) -> list[Device]: ...


class ShardPort(Protocol):
    """The shards: one call per shard per batch. The operation id crosses as text.
    `execute_stream` hands the same results back in chunks as the devices finish."""

    async def execute(self, operation_id: str, step: str,
                      tasks: Sequence[DeviceTask]) -> list[DeviceResult]: ...

    def execute_stream(self, operation_id: str, step: str,
                       tasks: Sequence[DeviceTask]) -> AsyncIterator[list[DeviceResult]]: ...


class KeyStorePort(Protocol):
    """Device keys (sealed under the master key) and the append-only audit."""

    async def held(self, device_ids: Iterable[str],
                   states: Sequence[str]) -> dict[str, list[KeyRecord]]: ...

    async def put(self, device_id: str, version: int, secret: bytes, state: str) -> bool: ...

    async def finish_rotation(self, device_id: str, *, old: int, new: int) -> None: ...

    async def abandon_rotation(self, device_id: str, *, old: int, new: int) -> None: ...

    async def audit(self, entries: Sequence[AuditEntry]) -> None: ...


class FirmwarePort(Protocol):
    """Stored firmware images."""

    async def artifact(self, artifact_id: UUID) -> FirmwareArtifact: ...

    async def read(self, artifact_id: UUID, offset: int, length: int) -> bytes: ...


CommandKeys = dict[str, AuthKey]
