"""Creating, listing and revoking API tokens, and the bootstrap admin token."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

import asyncpg
import structlog

from gridjobs.access import tokens
from gridjobs.access.roles import ALL_ROLES, AccessRole
from gridjobs.errors import Conflict, ValidationFailed
from gridjobs.store.tokens import TokenRecord, any_token, insert_token

ADMIN_TOKEN_FILENAME = "admin.token"
ADMIN_TOKEN_NAME = "admin"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")
_DURATION = re.compile(r"^(\d{1,5})([dhm])$")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}

log = structlog.get_logger("gridjobs.access")


@dataclass(frozen=True)
class Created:
    record: TokenRecord
    token: str   # shown once


def parse_roles(names: Sequence[str]) -> list[AccessRole]:
    unknown = sorted(set(names) - set(AccessRole))
    if unknown or not names:
        raise ValidationFailed(f"roles must be one or more of {', '.join(AccessRole)}; got {unknown or 'none'}")
    return sorted(set(AccessRole(n) for n in names))


def parse_expiry(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """'90d', '12h' or '30m' from now; None: never."""
    if text is None:
        return None
    match = _DURATION.match(text)
    if match is None or int(match[1]) == 0:
        raise ValidationFailed(f"expiry {text[:20]!r} must look like 90d, 12h or 30m")
    return (now or datetime.now(timezone.utc)) + int(match[1]) * _UNITS[match[2]]


async def create_token(pool: asyncpg.Pool, *, name: str, roles: Sequence[str],
                       feeders: Sequence[str] | None, expires: str | None = None) -> Created:
    """A new token; `feeders` None means every feeder."""
    if not _NAME.match(name):
        raise ValidationFailed(f"token name {name[:70]!r}: 1-64 letters, digits and ._:@- "
                               "(starting with a letter or digit)")
    if feeders is not None and not feeders:
        raise ValidationFailed("give at least one feeder, or every feeder")
    issued = tokens.issue()
    record = await insert_token(pool, token_id=issued.id, name=name, secret_sha256=issued.secret_sha256,
                                roles=parse_roles(roles), feeders=feeders, expires_at=parse_expiry(expires))
    log.info("token_created", name=name, roles=list(record.roles), all_feeders=feeders is None)
    return Created(record, issued.token)


async def ensure_admin_token(pool: asyncpg.Pool, data_dir: Path) -> Path | None:
    """On first start (no token at all), create an admin token (every role, every feeder)
    and write it to <data_dir>/admin.token, mode 0600. Return the path, or None."""
    if await any_token(pool):
        return None
    issued = tokens.issue()
    try:
        record = await insert_token(pool, token_id=issued.id, name=ADMIN_TOKEN_NAME,
                                    secret_sha256=issued.secret_sha256, roles=sorted(ALL_ROLES),
                                    feeders=None, expires_at=None)
    except Conflict:  # another process bootstrapped at the same moment: it writes the file
        return None
    path = data_dir / ADMIN_TOKEN_FILENAME
    _write_private(path, issued.token)
    log.info("admin_token_written", path=str(path), name=record.name)
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
