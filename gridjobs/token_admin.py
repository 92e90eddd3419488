"""`gridjobs tokens …`: API tokens, managed in Postgres directly (as `serve` reaches it).

The token itself is printed once, by `create`; the store keeps only its hash.
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from datetime import datetime

from gridjobs.access.admin import create_token
from gridjobs.bootstrap import database
from gridjobs.config import Settings
from gridjobs.store.database import create_pool, migrate
from gridjobs.store.tokens import TokenRecord, list_tokens, revoke_token


async def _with_pool(dsn: str, work):
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        return await work(pool)
    finally:
        await pool.close()


def run_tokens(settings: Settings, args: Namespace) -> int:
    with database(settings, master_key=False) as resolved:
        return asyncio.run(_with_pool(resolved.database_url, lambda pool: _act(pool, args)))


async def _act(pool, args: Namespace) -> int:
    if args.action == "create":
        feeders = None if args.all_feeders else [f for f in args.feeders.split(",") if f]
        created = await create_token(pool, name=args.name, roles=args.role, feeders=feeders,
                                     expires=args.expires)
        if not args.quiet:
            print(f"created token {created.record.name!r} ({_describe(created.record)}); "
                  "it is shown once, here:")
        print(created.token)
    elif args.action == "list":
        for record in await list_tokens(pool):
            print(f"{record.name:<24} {_describe(record)}  last used {_when(record.last_used_at)}"
                  f"{'  REVOKED ' + _when(record.revoked_at) if record.revoked_at else ''}")
    else:
        await revoke_token(pool, args.name)
        print(f"revoked {args.name!r}: every API process refuses it from its next request")
    return 0


def _describe(record: TokenRecord) -> str:
    area = "all feeders" if record.feeders is None else "feeders " + ",".join(record.feeders)
    return f"roles {','.join(record.roles)}; {area}; expires {_when(record.expires_at)}"


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "never"
