"""Databases for chaos runs: a fresh one per run, and a PostgreSQL the test may restart.

The restart scenario never restarts the machine's shared cluster: other worktrees'
suites run against it at the same time, and a restart would fail their tests. It
restarts a private PostgreSQL (pgserver) that the scenario owns, on either path.
"""

from __future__ import annotations

import tempfile
import uuid
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DATABASE_PREFIX = "gridjobs_chaos_"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """An empty database on the server of `admin_url` (gridjobs migrates it), dropped afterwards."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    yield with_database(admin_url, name)
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a new connection: the
    # server may have restarted in between


async def _admin(admin_url: str, statement: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


class PrivatePostgres:
    """A pgserver instance in its own directory, which a test may stop and start again."""

    def __init__(self, root: Path) -> None:
        import pgserver  # only the scenarios that own a server need it

        self._pgserver = pgserver
        self.pgdata = root / "pg"
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")

    @property
    def admin_url(self) -> str:
        return self._server.get_uri("postgres")

    def stop(self) -> None:
        """Fast shutdown: every connection is cut, as in a crash-restart of the service."""
        self._pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata,
                              user=self._server.system_user, timeout=60)

    def start(self) -> None:
        """Start it again on the same data directory and socket."""
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self._server.cleanup()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    with tempfile.TemporaryDirectory(prefix="gj-chaos-pg-") as tmp:
        server = PrivatePostgres(Path(tmp))
        try:
            yield server
        finally:
            server.close()
