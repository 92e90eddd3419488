"""schema.sql is the truth: the numbered migrations must reproduce it exactly."""

from __future__ import annotations

import uuid

import asyncpg

from gridjobs.store.database import list_migrations
from gridjobs.store.queries import SCHEMA_FILE
from tests.conftest import _with_db

CATALOG = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable, column_default
                  FROM information_schema.columns WHERE table_schema = 'public'
                  ORDER BY 1, 2""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                      ORDER BY 1, 2""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
                   FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "functions": """SELECT proname, pg_get_function_identity_arguments(oid), prosrc
                    FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "views": """SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'
                ORDER BY 1""",
}


async def _catalog(url: str, *scripts: str) -> dict:
    conn = await asyncpg.connect(url)
    try:
        for script in scripts:
            await conn.execute(script)
        return {k: [tuple(r) for r in await conn.fetch(q)] for k, q in CATALOG.items()}
    finally:
        await conn.close()


async def test_migrations_reproduce_schema(admin_url):
    names = [f"gridjobs_s_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = await asyncpg.connect(admin_url)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        from_schema = await _catalog(_with_db(admin_url, names[0]), SCHEMA_FILE.read_text())
        migrations = [m.path.read_text() for m in list_migrations()]
        from_migrations = await _catalog(_with_db(admin_url, names[1]), *migrations)
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert from_schema["columns"], "schema.sql created no tables"
    assert from_migrations == from_schema
