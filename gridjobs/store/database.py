"""Connection pool creation and schema migrations."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, ParamSpec, TypeVar

import asyncpg
import structlog

from gridjobs.errors import InvalidData, StoreError
from gridjobs.store.queries import MIGRATIONS_DIR, Q

POOL_MIN_SIZE = 2
POOL_MAX_SIZE = 10
COMMAND_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
_MIGRATION_LOCK = 0x6772_6964  # "grid"
# InternalClientError: asyncpg's protocol refusing a query on a connection still consuming
# an earlier error, as when PostgreSQL shuts down and fails its connections under a query
# (seen as "cannot switch to state 12; another operation (2) is in progress"): the
# database failing, as much as a dropped connection is; retried like one, never a crash.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)
# SQLSTATE class 22, and asyncpg's own refusals of an argument (out of range, not encodable):
# the request carried a value the database cannot hold, and retrying it cannot succeed.
DATA_ERRORS = (asyncpg.DataError,)
UNAVAILABLE = "the database is unavailable or failed; retry later"
REFUSED = "the database refused a value of this request (a control character, or a number out of range)"

_ARGUMENT = re.compile(r"query argument (\$\d+)")

log = structlog.get_logger("gridjobs.store")

P = ParamSpec("P")
R = TypeVar("R")


def translated(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn driver and socket errors into our own at the store boundary.

    A value the database refuses is InvalidData (422); anything else is StoreError
    (503). Neither carries the driver's class or message: those are logged.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DATA_ERRORS as exc:
            # Not the message: it quotes the refused value, which may be anything (key material).
            log.warning("store_refused_data", call=fn.__qualname__, error_type=type(exc).__name__,
                        sqlstate=getattr(exc, "sqlstate", None), argument=_argument(exc))
            raise InvalidData(REFUSED) from exc
        except DRIVER_ERRORS as exc:
            log.error("store_failed", call=fn.__qualname__, error_type=type(exc).__name__,
                      error=str(exc))
            raise StoreError(UNAVAILABLE) from exc

    return wrapper


def _argument(exc: Exception) -> str | None:
    """Which query argument asyncpg refused ("$2"), if it says so."""
    found = _ARGUMENT.search(str(exc))
    return found[1] if found else None


_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query on release (one round trip per use of the pool): gridjobs never
    changes a pool connection's session state (no SET, LISTEN or session advisory lock:
    LISTEN has its own connection, locks are transaction-scoped). asyncpg still rolls
    back an open transaction and drops listener callbacks on release."""


async def create_pool(
    dsn: str, *, min_size: int = POOL_MIN_SIZE, max_size: int = POOL_MAX_SIZE
) -> asyncpg.Pool:
    try:
        return await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            command_timeout=COMMAND_TIMEOUT_S,
            timeout=CONNECT_TIMEOUT_S,
            init=_init_connection,
            reset=_keep_session,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc


async def connect(dsn: str) -> asyncpg.Connection:
    """One dedicated connection (LISTEN needs its own)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
    await _init_connection(conn)
    return conn


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise StoreError(f"migration file {path.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    return found


@translated
async def migrate(pool: asyncpg.Pool) -> list[int]:
    """Apply pending migrations under an advisory lock; return versions applied."""
    applied: list[int] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["lock_migrations"], _MIGRATION_LOCK)
        exists = await conn.fetchval(Q["migrations_table_exists"])
        done = set()
        if exists:
            done = {r["version"] for r in await conn.fetch(Q["applied_migrations"])}
        for migration in list_migrations():
            if migration.version in done:
                continue
            await conn.execute(migration.path.read_text())
            await conn.execute(Q["record_migration"], migration.version, migration.name)
            applied.append(migration.version)
    return applied


@translated
async def ping(pool: asyncpg.Pool) -> None:
    await pool.fetchval(Q["ping"])
