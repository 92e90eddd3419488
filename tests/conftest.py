"""Shared fixtures: real Postgres (machine or embedded), real local Ray, hygiene.

GRIDJOBS_TEST_DATABASE_URL points at a server where we may create databases;
without it an embedded PostgreSQL (pgserver) is started for the session. Each
test gets its own database, copied from a migrated template.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adapters import SessionPool
from gridjobs.store.database import create_pool, migrate

TEMPLATE = f"gridjobs_tpl_{os.getpid()}"


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def admin_url():
    url = os.environ.get("GRIDJOBS_TEST_DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="gj-pg-") as tmp:
        server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
        try:
            yield f"postgresql://postgres@/postgres?host={tmp}"
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
async def template_url(admin_url):
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
    await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = _with_db(admin_url, TEMPLATE)
    pool = await create_pool(url, min_size=1, max_size=1)
    await migrate(pool)
    await pool.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def database_from_template(admin_url: str, prefix: str = "gridjobs_t_"):
    """A new database copied from the migrated template; dropped afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        yield _with_db(admin_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def db_url(admin_url, template_url):
    async with database_from_template(admin_url) as url:
        yield url


@pytest.fixture
async def pool(db_url):
    p = await create_pool(db_url, min_size=1, max_size=5)
    yield p
    await p.close()


@pytest.fixture
async def sessions():
    """Gateway sessions (1 s per request), closed after the test; a test file that needs
    other settings defines its own `sessions`."""
    p = SessionPool(timeout_s=1.0)
    yield p
    await p.close()


@pytest.fixture(scope="session")
def ray_local():
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, namespace="gridjobs-tests")
    yield ray
    ray.shutdown()


def _children() -> set[int]:
    pid = os.getpid()
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}


@pytest.fixture(autouse=True)
async def no_leftovers():
    """Fail a test that leaves an asyncio task, a thread or a child process behind."""
    tasks, threads, children = set(asyncio.all_tasks()), _threads(), _children()
    yield
    await asyncio.sleep(0)
    current = asyncio.current_task()
    new_tasks = {t for t in asyncio.all_tasks() - tasks if t is not current and not t.done()}
    new_threads = {t for t in _threads() - threads if t.is_alive()}
    new_children = _children() - children
    for _ in range(50):  # give finished things a moment to be reaped, bounded
        if not (new_tasks or new_threads or new_children):
            break
        await asyncio.sleep(0.1)
        new_tasks = {t for t in new_tasks if not t.done()}
        new_threads = {t for t in new_threads if t.is_alive()}
        new_children = new_children & _children()
    assert not new_tasks, f"test left asyncio tasks behind: {new_tasks}"
    assert not new_threads, f"test left threads behind: {new_threads}"
    assert not new_children, f"test left child processes behind: {new_children}"
