"""What an entry point sets up before anything else starts: a database (the one
given, or an embedded PostgreSQL) and a usable master key file."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import structlog

from gridjobs.config import Settings
from gridjobs.device_keys.master import MASTER_KEY_FILENAME, ensure_master_key, load_master_key
from gridjobs.errors import ConfigError
from gridjobs.store.embedded import EmbeddedPostgres

log = structlog.get_logger("gridjobs.bootstrap")


@contextmanager
def database(settings: Settings, *, master_key: bool = True) -> Iterator[Settings]:
    """Yield settings with a database URL, starting the embedded one if none is set.

    The master key file is checked first, so a bad one stops us before anything starts.
    """
    if master_key:
        settings = with_master_key(settings)
    if settings.database_url:
        yield settings
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    dsn = embedded.start()
    log.info("embedded_postgres_started", data_dir=str(settings.data_dir))
    try:
        yield settings.model_copy(update={"database_url": dsn})
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
    return settings.model_copy(update={"master_key_file": path})
