"""Test helpers gridjobs ships, as structlog, Starlette and procrastinate ship theirs.

Everything a runner needs, in memory: a lease, the device registry, the key
store, the firmware store, and a shard pool that runs `DeviceShardImpl` in this
process. A runner driven through these talks real Modbus/TCP to whatever the
devices point at (a simulated fleet on loopback, say), with no Postgres and no
Ray:

    async with local_ports(devices, key_store=keys) as ports:
        ctx = run_context(new_operation("load_shed", params), ports)
        finish = await run_load_shed(ctx)
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Iterable, Sequence
from uuid import UUID, uuid4

import structlog

from actors.placement import group_by_shard
from actors.services import ShardServices
from actors.shard import DeviceShardImpl, ShardConfig
from actors.streams import merged
from actors.tasks import DeviceResult, DeviceTask
from gridjobs.device_keys.audit import AuditEntry
from gridjobs.device_keys.store import KeyRecord
from gridjobs.errors import NotFound, StaleLeaseError
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device, FirmwareArtifact, Operation, Outcome
from gridjobs.run.context import RunContext, RunPorts
from gridjobs.scope import Scope
from gridjobs.states import Status
from gridjobs.store.leases import Beat

LOCAL_SHARDS = 2
LOCAL_REQUEST_TIMEOUT_S = 0.5


def new_operation(kind: str, params: dict[str, Any], *, priority: int = 0) -> Operation:
    """A claimed operation as the dispatcher would hand it to a runner (fence 1)."""
    now = datetime.now(timezone.utc)
    return Operation(uuid4(), kind, Status.RUNNING, priority, params, None, None, None,
                     now, now, None, fence=1)


class InMemoryLease:
    """The lease port in memory. `take_over()` makes every later write fail as a
    stale holder's would; `finished` holds what the runner finished with."""

    def __init__(self, operation: Operation, *, lease_s: float = 15.0,
                 outcomes: Iterable[Outcome] = ()) -> None:
        self.operation, self.lease_s = operation, lease_s
        self.status = operation.status
        self.saved: dict[str, Outcome] = {o.device_id: o for o in outcomes}
        self.checkpoint: dict[str, Any] = copy.deepcopy(operation.checkpoint)
        self.finished: tuple[Status, dict[str, Any] | None, str | None] | None = None
        self.cancel_requested = self.resume_requested = False
        self.events: list[tuple[str, dict[str, Any]]] = []   # what the runner announced
        self._lost = False

    @property
    def fence(self) -> int:
        return self.operation.fence

    def take_over(self) -> None:
        self._lost = True

    def _check(self) -> None:
        if self._lost:
            raise StaleLeaseError(f"lease on operation {self.operation.id} was lost")

    async def outcomes(self) -> list[Outcome]:
        return sorted(self.saved.values(), key=lambda o: o.seq)

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        self._check()
        now = datetime.now(timezone.utc)
        for o in outcomes:  # stored as Postgres would: data through JSON
            self.saved[o.device_id] = Outcome(o.device_id, o.state, o.step, o.seq, o.code, o.detail,
                                              o.attempts, json.loads(json.dumps(o.data)), now)

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._check()
        self.checkpoint = json.loads(json.dumps(checkpoint))

    async def pause(self) -> None:
        self._check()
        self.status = Status.PAUSED

    async def unpause(self) -> None:
        self.status, self.resume_requested = Status.RUNNING, False

    async def heartbeat(self) -> Beat:
        self._check()
        return Beat(cancel=self.cancel_requested, resume=self.resume_requested)

    async def finish(self, status: Status, *, result: dict[str, Any] | None,
                     error_code: str | None = None, error_detail: str | None = None) -> None:
        self._check()
        self.status, self.finished = status, (status, result, error_code)

    async def release(self) -> None:
        pass

    async def event(self, type: str, data: dict[str, Any]) -> None:
        self._check()
        self.events.append((type, json.loads(json.dumps(data))))


class InMemoryDevices:
    """The device registry port over a list of devices."""

    def __init__(self, devices: Iterable[Device]) -> None:
        self.devices = {d.id: d for d in devices}

    async def in_scope(self, scope: Scope) -> list[Device]:
        if scope.device_ids is not None:
            return await self.by_ids(scope.device_ids)
        feeders = set(scope.feeders or ())
        return sorted((d for d in self.devices.values() if d.feeder in feeders), key=lambda d: d.id)

    async def by_ids(self, device_ids: Sequence[str]) -> list[Device]:
        return sorted((self.devices[d] for d in set(device_ids) if d in self.devices),
                      key=lambda d: d.id)


@dataclass
class InMemoryKeyStore:
    """The key store port in memory: (device, version) → (state, secret), and the audit."""

    keys: dict[tuple[str, int], tuple[str, bytes]] = field(default_factory=dict)
    audit_log: list[AuditEntry] = field(default_factory=list)

    async def held(self, device_ids: Iterable[str], states: Sequence[str]) -> dict[str, list[KeyRecord]]:
        found: dict[str, list[KeyRecord]] = {d: [] for d in device_ids}
        for (device_id, version), (state, secret) in sorted(self.keys.items(), reverse=True):
            if device_id in found and state in states:
                found[device_id].append(KeyRecord(version, state, secret))
        return found

    async def put(self, device_id: str, version: int, secret: bytes, state: str = "active") -> bool:
        if (device_id, version) in self.keys:
            return False
        self.keys[(device_id, version)] = (state, secret)
        return True

    def _set(self, device_id: str, states: dict[int, str]) -> None:
        for version, state in states.items():
            if (device_id, version) not in self.keys:
                raise NotFound(f"device {device_id!r} has no key version {version}")
            self.keys[(device_id, version)] = (state, self.keys[(device_id, version)][1])

    async def finish_rotation(self, device_id: str, *, old: int, new: int) -> None:
        self._set(device_id, {new: "active", old: "retired"})

    async def abandon_rotation(self, device_id: str, *, old: int, new: int) -> None:
        self._set(device_id, {old: "active", new: "failed"})

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        self.audit_log.extend(entries)

    def state(self, device_id: str, version: int) -> str:
        return self.keys[(device_id, version)][0]


class InMemoryFirmware:
    """Firmware images in memory. It is both the runners' firmware port (artifacts,
    byte ranges) and the shards' firmware source (chunks, transfer offsets)."""

    def __init__(self) -> None:
        self.images: dict[UUID, tuple[FirmwareArtifact, bytes]] = {}
        self.offsets: dict[tuple[str, str, str], int] = {}

    def add(self, image: bytes, *, version: str, profile: str) -> FirmwareArtifact:
        artifact = FirmwareArtifact(uuid4(), version, profile, hashlib.sha256(image).hexdigest(),
                                    len(image), datetime.now(timezone.utc))
        self.images[artifact.id] = (artifact, image)
        return artifact

    async def artifact(self, artifact_id: UUID) -> FirmwareArtifact:
        if UUID(str(artifact_id)) not in self.images:
            raise NotFound(f"firmware artifact {artifact_id} does not exist")
        return self.images[UUID(str(artifact_id))][0]

    async def read(self, artifact_id: UUID | str, offset: int, length: int) -> bytes:
        return self.images[UUID(str(artifact_id))][1][offset:offset + length]

    async def offset(self, operation_id: str, device_id: str, artifact_id: str) -> int:
        return self.offsets.get((operation_id, device_id, artifact_id), 0)

    async def save_offset(self, operation_id: str, device_id: str, artifact_id: str,
                          offset: int) -> None:
        key = (operation_id, device_id, artifact_id)
        self.offsets[key] = max(offset, self.offsets.get(key, 0))

    async def close(self) -> None:
        pass


class LocalShardPool:
    """The shard port without Ray: `DeviceShardImpl`s in this process, placed and
    called as `actors.pool.ShardPool` does (one call per shard per batch)."""

    def __init__(self, shards: int = LOCAL_SHARDS, *, firmware: InMemoryFirmware | None = None,
                 request_timeout_s: float = LOCAL_REQUEST_TIMEOUT_S, device_deadline_s: float = 30.0,
                 profile_dirs: tuple[str, ...] = ()) -> None:
        services = (lambda: ShardServices(firmware=firmware)) if firmware else None
        config = ShardConfig(services=services, request_timeout_s=request_timeout_s,
                             device_deadline_s=device_deadline_s, profile_dirs=profile_dirs)
        self.shards = [DeviceShardImpl(i, config) for i in range(shards)]
        self.calls: list[tuple[str, int]] = []   # (step, shard) per call, in order

    async def execute(self, operation_id: str, step: str,
                      tasks: Sequence[DeviceTask]) -> list[DeviceResult]:
        groups = group_by_shard(tasks, lambda t: t.device_id, len(self.shards))
        self.calls += [(step, index) for index in groups]
        batches = await asyncio.gather(*(self.shards[i].execute(operation_id, step, batch)
                                         for i, batch in groups.items()))
        return [result for batch in batches for result in batch]

    def execute_stream(self, operation_id: str, step: str,
                       tasks: Sequence[DeviceTask]) -> AsyncIterator[list[DeviceResult]]:
        groups = group_by_shard(tasks, lambda t: t.device_id, len(self.shards))
        self.calls += [(step, index) for index in groups]
        return merged([self.shards[i].execute_stream(operation_id, step, batch) for i, batch in groups.items()])

    async def close(self) -> None:
        for shard in self.shards:
            await shard.close()


@asynccontextmanager
async def local_ports(devices: Iterable[Device], *, key_store: InMemoryKeyStore | None = None,
                      firmware: InMemoryFirmware | None = None, shards: int = LOCAL_SHARDS,
                      profiles: ProfileCatalog | None = None, **shard_options: Any
                      ) -> AsyncIterator[RunPorts]:
    """Ports over `devices` (and a local shard pool, closed on exit)."""
    firmware = firmware or InMemoryFirmware()
    pool = LocalShardPool(shards, firmware=firmware, **shard_options)
    try:
        yield RunPorts(devices=InMemoryDevices(devices), shards=pool, firmware=firmware,
                       key_store=key_store, profiles=profiles or ProfileCatalog())
    finally:
        await pool.close()


def run_context(operation: Operation, ports: RunPorts, *, lease: InMemoryLease | None = None,
                clock: Any = time.time) -> RunContext:
    """A RunContext for `operation` over `ports`, with an in-memory lease unless given one."""
    lease = lease or InMemoryLease(operation)
    return RunContext(operation=operation, lease=lease, ports=ports, cancel=asyncio.Event(),
                      log=structlog.get_logger("gridjobs.testing").bind(operation_id=str(operation.id)),
                      clock=clock, checkpoint=copy.deepcopy(lease.checkpoint))


def devices_from_inventory(inventory: Iterable[dict[str, Any]]) -> list[Device]:
    """Device records from a simulated fleet's inventory (`Fleet.inventory()`)."""
    return [Device(**{name: item[name] for name in Device.__dataclass_fields__ if name in item})
            for item in inventory]
