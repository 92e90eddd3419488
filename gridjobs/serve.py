"""Running the service: embedded database when needed, then uvicorn."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator

import structlog
import uvicorn

from gridjobs.api.app import create_app
from gridjobs.config import Settings
from gridjobs.errors import ConfigError
from gridjobs.keys.master import MASTER_KEY_FILENAME, ensure_master_key, load_master_key
from gridjobs.runtime import open_runtime
from gridjobs.store.embedded import EmbeddedPostgres

log = structlog.get_logger("gridjobs.serve")


@contextmanager
def database(settings: Settings) -> Iterator[Settings]:
    """Yield settings with a database URL, starting the embedded one if none is set.

    The master key file is checked first, so a bad one stops us before anything starts.
    """
    settings = with_master_key(settings)
    if settings.database_url:
        yield settings
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    dsn = embedded.start()
    log.info("embedded_postgres_started", data_dir=str(settings.data_dir))
    try:
        yield replace(settings, database_url=dsn)
    finally:
        embedded.stop()
        log.info("embedded_postgres_stopped")


def with_master_key(settings: Settings) -> Settings:
    """Settings naming a usable master key file: the one given, or <data_dir>/master.key
    (created on first use) with the embedded database. An external database needs one."""
    if settings.master_key_file is not None:
        load_master_key(settings.master_key_file)
        return settings
    if settings.database_url:
        raise ConfigError("no master key file: with an external database "
                          "(GRIDJOBS_DATABASE_URL) set GRIDJOBS_MASTER_KEY_FILE "
                          "(or --master-key-file) to a 32-byte key file of mode 0600")
    path = settings.data_dir / MASTER_KEY_FILENAME
    ensure_master_key(path)
    return replace(settings, master_key_file=path)


def build_server(settings: Settings, *, execute: bool = True) -> uvicorn.Server:
    app = create_app(lambda: open_runtime(settings, execute=execute),
                     max_body_bytes=settings.max_body_bytes,
                     firmware_max_bytes=settings.firmware_max_bytes)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    return uvicorn.Server(config)


def serve(settings: Settings, *, execute: bool = True) -> None:
    with database(settings) as resolved:
        log.info("serving", host=resolved.host, port=resolved.port, shards=resolved.shards,
                 execute=execute)
        asyncio.run(build_server(resolved, execute=execute).serve())
