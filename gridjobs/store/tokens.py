"""API tokens in Postgres: only the id and the SHA-256 of the secret are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import asyncpg

from gridjobs.errors import Conflict, NotFound
from gridjobs.store.database import translated
from gridjobs.store.queries import Q

TOKENS_CHANNEL = "gridjobs_tokens"


@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    secret_sha256: bytes
    roles: tuple[str, ...]
    feeders: tuple[str, ...] | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "TokenRecord":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["roles"] = tuple(values["roles"])
        values["feeders"] = None if values["feeders"] is None else tuple(values["feeders"])
        values["secret_sha256"] = bytes(values["secret_sha256"])
        return cls(**values)


@translated
async def insert_token(pool: asyncpg.Pool, *, token_id: str, name: str, secret_sha256: bytes,
                       roles: Sequence[str], feeders: Sequence[str] | None,
                       expires_at: datetime | None) -> TokenRecord:
    row = await pool.fetchrow(Q["insert_api_token"], token_id, name, secret_sha256, list(roles),
                              None if feeders is None else list(feeders), expires_at)
    if row is None:
        raise Conflict(f"a token named {name!r} exists already; names are unique (revoke does not free them)")
    return TokenRecord.from_row(row)


@translated
async def find_token(pool: asyncpg.Pool, token_id: str) -> TokenRecord | None:
    row = await pool.fetchrow(Q["find_api_token"], token_id)
    return TokenRecord.from_row(row) if row else None


@translated
async def list_tokens(pool: asyncpg.Pool) -> list[TokenRecord]:
    return [TokenRecord.from_row(r) for r in await pool.fetch(Q["list_api_tokens"])]


@translated
async def any_token(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval(Q["any_api_token"]))


@translated
async def revoke_token(pool: asyncpg.Pool, name: str) -> str:
    """Revoke at once (a NOTIFY tells every API process); a token revoked already is a 404.
    Returns the token's id."""
    token_id = await pool.fetchval(Q["revoke_api_token"], name)
    if token_id is None:
        raise NotFound(f"no active token named {name!r}")
    return token_id


@translated
async def touch_tokens(pool: asyncpg.Pool, token_ids: Sequence[str]) -> None:
    if token_ids:
        await pool.execute(Q["touch_api_tokens"], list(token_ids))
