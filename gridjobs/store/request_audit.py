"""The append-only audit of requests: who asked what, and what they were told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import asyncpg
import orjson

from gridjobs.store.database import translated
from gridjobs.store.queries import Q


@dataclass(frozen=True)
class RequestEntry:
    """One line to append. Never holds the credential, only who it named."""

    principal: str | None
    via: str | None
    roles: tuple[str, ...]
    method: str
    route: str
    target: str | None
    request_id: str | None
    status: int
    detail: str | None = None


@dataclass(frozen=True)
class RequestRecord(RequestEntry):
    id: int = 0
    at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "RequestRecord":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        return cls(**{**values, "roles": tuple(values["roles"])})


def storable(text: str | None) -> str | None:
    """`text` as PostgreSQL's text type can hold it. A request's target and id are the
    client's own (a path of /v1/devices/d%00 names "d\\x00"): NUL, and the lone surrogates
    that stand for undecodable bytes, are written as backslash escapes; the rest as it came."""
    if text is None or (text.isprintable() and text.isascii()):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


@translated
async def append(pool: asyncpg.Pool, entries: Sequence[RequestEntry]) -> None:
    if not entries:
        return
    # One text parameter: PostgreSQL parses it faster than asyncpg encodes nine arrays.
    document = orjson.dumps([
        {"principal": storable(e.principal), "via": e.via, "roles": e.roles,
         "method": storable(e.method), "route": storable(e.route), "target": storable(e.target),
         "request_id": storable(e.request_id), "status": e.status, "detail": storable(e.detail)}
        for e in entries]).decode()
    await pool.execute(Q["insert_request_audit"], document)


@translated
async def list_entries(pool: asyncpg.Pool, *, principal: str | None, before_id: int | None,
                       limit: int) -> list[RequestRecord]:
    rows = await pool.fetch(Q["list_request_audit"], principal, before_id, limit)
    return [RequestRecord.from_row(r) for r in rows]
