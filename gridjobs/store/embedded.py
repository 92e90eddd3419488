"""Embedded PostgreSQL (pgserver) for the zero-configuration default."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridjobs.errors import StoreError

DATABASE_NAME = "gridjobs"


@dataclass
class EmbeddedPostgres:
    """A pgserver instance in `data_dir/pg`; `dsn` points at its gridjobs database."""

    data_dir: Path
    _server: Any = None
    dsn: str = ""

    def start(self) -> str:
        import pgserver  # imported lazily: only the embedded path needs it

        pgdata = self.data_dir / "pg"
        pgdata.mkdir(parents=True, exist_ok=True)
        try:
            self._server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:  # pgserver raises plain exceptions on start failure
            raise StoreError(f"cannot start embedded PostgreSQL in {pgdata}: {exc}") from exc
        self._ensure_database()
        self.dsn = f"postgresql://postgres@/{DATABASE_NAME}?host={pgdata}"
        return self.dsn

    def _ensure_database(self) -> None:
        exists = self._server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"
        )
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
