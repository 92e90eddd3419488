"""The resources one gridjobs process holds: pool, Ray shards, dispatcher.

`open_runtime` creates them in order and tears them down in reverse; the
Starlette lifespan uses it, and so do the tests.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import ray
import structlog

from actors.pool import ShardPool
from actors.shard import SHARD_GC_YOUNG_THRESHOLD, ShardConfig
from gridjobs.admission.gate import QueueGate
from gridjobs.access.admin import ensure_admin_token
from gridjobs.access.control import AccessControl
from gridjobs.access.opening import open_access
from gridjobs import background
from gridjobs.config import Settings
from gridjobs.dispatch.dispatcher import Dispatcher, DispatcherConfig
from gridjobs.errors import ConfigError, StoreError
from gridjobs.device_keys.keyring import Keyring, open_keyring
from gridjobs.device_keys.master import MasterKey, load_master_key
from gridjobs.kinds import KINDS
from gridjobs.outbox.service import Outbox, open_outbox
from gridjobs.store.device_index import DeviceIndex
from gridjobs.store.group_commit import GroupCommit
from gridjobs.profiles import ProfileCatalog
from gridjobs.run.context import RunPorts
from gridjobs.run.postgres import PgDevices, PgFirmware
from gridjobs.store.database import create_pool, migrate, ping
from gridjobs.store.shard_layout import settle_shard_count
from gridjobs.store.shard_services import pg_shard_services
from gridjobs.telemetry.monitors import open_monitors

READY_TIMEOUT_S = 3.0
LOCAL_RAY = "local"  # ray.init: start a Ray of our own, never join one found on the machine

log = structlog.get_logger("gridjobs.runtime")


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    shards: ShardPool | None           # None: an intake-only process
    dispatcher: Dispatcher | None
    profiles: ProfileCatalog
    keyring: Keyring | None = None     # None: no master key file (no key operations)
    gate: QueueGate | None = None      # admission by lane; None: admit everything
    access: AccessControl | None = None  # identities, budgets, the request audit
    outbox: Outbox | None = None         # event streams, the webhook relay and delivery workers
    devices_index: DeviceIndex | None = None  # the registry in memory for the intake's scope check
    submissions: GroupCommit | None = None    # group commit of accepted operations

    async def readiness(self) -> dict[str, str]:
        checks = {}
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await ping(self.pool)
            checks["postgres"] = "ok"
        except (StoreError, TimeoutError) as exc:
            checks["postgres"] = f"unavailable: {type(exc).__name__}"
        dead = background.failed()
        checks["background"] = ("failed: " + ", ".join(f"{name} ({error})" for name, error in sorted(dead.items()))
                                if dead else "ok")
        if self.shards is None:
            return checks
        try:
            await self.shards.ping(READY_TIMEOUT_S)
            checks["ray"] = "ok"
        except (TimeoutError, ray.exceptions.RayError) as exc:
            checks["ray"] = f"unavailable: {type(exc).__name__}"
        return checks

    def begin_stop(self) -> None:
        """Stop taking work now: claim nothing more and hand the running operations back
        (their leases released at once). Closing the runtime waits for it."""
        if self.dispatcher is not None:
            self.dispatcher.begin_stop()
        if self.outbox is not None:   # streams end, no more deliveries are claimed
            self.outbox.begin_stop()


def ensure_ray(address: str | None) -> bool:
    """Connect to RAY_ADDRESS or start a local Ray; return True if we started it.

    Without an address, "local": a bare `ray.init()` would join whichever cluster the
    last `ray start` on this machine recorded (another user's, or a dead one).
    """
    if ray.is_initialized():
        return False
    ray.init(address=address or LOCAL_RAY, namespace="gridjobs", include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    return True


async def start_ray(address: str | None) -> bool:
    """ensure_ray off the event loop, then SIGTERM back to the handler Python knows of.

    When ray.init connects, the driver's core worker installs absl's
    failure-signal handler (RayLog::InstallFailureSignalHandler: SIGSEGV, SIGABRT,
    SIGTERM, ...), which answers SIGTERM with a "*** SIGTERM received ***" stack
    dump before calling the previous handler. A stop is not a crash: SIGTERM goes
    back to the handler the process had (uvicorn's, or gridjobs.shutdown's).
    ray.init's own Python handler (sys.exit) is set only on the main thread, and
    ensure_ray runs on a worker thread.
    """
    started = await asyncio.to_thread(ensure_ray, address)
    handler = signal.getsignal(signal.SIGTERM)
    if handler is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
    return started


@asynccontextmanager
async def open_runtime(settings: Settings, *, execute: bool = True) -> AsyncIterator[Runtime]:
    """Open the pool (migrated); with `execute`, also Ray shards and the dispatcher."""
    if not settings.database_url:
        raise ConfigError("no database URL: the entry point must start the embedded PostgreSQL")
    profiles = profile_catalog(settings)
    master = _master_key(settings)
    pool = await create_pool(settings.database_url)
    started_ray = False
    shards = None
    dispatcher = None
    access = None
    devices_index = None
    submissions = GroupCommit(pool)
    submissions.start()
    try:
        applied = await migrate(pool)
        log.info("schema_ready", migrations_applied=applied)
        keyring = await open_keyring(pool, master) if master else None
        access = open_access(settings, pool)
        await access.start()
        devices_index = DeviceIndex(settings.database_url)
        await devices_index.start()
        if settings.bootstrap_admin_token:
            await ensure_admin_token(pool, settings.data_dir)
        if execute:
            shared = settings.ray_address is not None
            if shared:   # before joining the cluster: a process with another count is refused at once
                await settle_shard_count(pool, settings.shards)
            started_ray = await start_ray(settings.ray_address)
            shards = _open_shards(settings, shared=shared)
            ports = RunPorts(devices=PgDevices(pool), shards=shards, firmware=PgFirmware(pool),
                             key_store=keyring, profiles=profiles)
            dispatcher = Dispatcher(pool=pool, dsn=settings.database_url, ports=ports,
                                    runners={name: kind.run for name, kind in KINDS.items()},
                                    config=DispatcherConfig(settings.lease_s, settings.poll_s,
                                                            settings.max_running))
            await dispatcher.start()
        gate = QueueGate.of(settings)
        running = (lambda: dispatcher.running) if dispatcher is not None else None
        async with (open_monitors(settings, gate, shards=shards, running=running),
                    open_outbox(settings, pool, keyring) as outbox):
            yield Runtime(settings, pool, shards, dispatcher, profiles, keyring, gate, access, outbox,
                          devices_index, submissions)
    finally:
        if dispatcher is not None:
            await dispatcher.stop()
        if access is not None:
            await access.close()
        if devices_index is not None:
            await devices_index.close()
        await submissions.close()
        if shards is not None:
            await shards.close()
        await pool.close()
        if started_ray:
            await asyncio.to_thread(ray.shutdown)


def _open_shards(settings: Settings, *, shared: bool) -> ShardPool:
    """A local Ray (fresh, ours or a test's): shards of our own. A cluster: the cluster's
    named shards (their number settled with Postgres first)."""
    if not shared:
        return ShardPool.create(settings.shards, _shard_config(settings))
    shards = ShardPool.attach(settings.shards, _shard_config(settings), wait_s=settings.shard_wait_s)
    log.info("shards_attached", shards=shards.size, actor_ids=shards.actor_ids())
    return shards


def _master_key(settings: Settings) -> MasterKey | None:
    """The entry point names the file (serve: required, or <data_dir>/master.key)."""
    if settings.master_key_file is None:
        return None
    master = load_master_key(settings.master_key_file)
    log.info("master_key_loaded", fingerprint=master.fingerprint)
    return master


def _shard_config(settings: Settings) -> ShardConfig:
    return ShardConfig(
        services=pg_shard_services(settings.database_url),
        request_timeout_s=settings.request_timeout_s,
        device_deadline_s=settings.device_deadline_s,
        max_inflight_per_gateway=settings.max_inflight_per_gateway,
        profile_dirs=tuple(str(d) for d in _dirs(settings)),
        gc_young_threshold=SHARD_GC_YOUNG_THRESHOLD,   # each shard is a process of its own
    )


def _dirs(settings: Settings) -> tuple[Path, ...]:
    return (settings.profiles_dir,) if settings.profiles_dir else ()


def profile_catalog(settings: Settings) -> ProfileCatalog:
    return ProfileCatalog(_dirs(settings))
