"""The named SQL of gridjobs, loaded once from the package's .sql files."""

from __future__ import annotations

from pathlib import Path

from gridjobs.store.named_sql import load_named_queries

SQL_DIR = Path(__file__).parent / "sql"
SCHEMA_FILE = SQL_DIR / "schema.sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"

Q = load_named_queries(SQL_DIR / "queries.sql")
