"""Loading device keys from a keys file: [{"device_id", "version", "secret_b64"}, ...].

The file holds secrets, so, like the master key, it must be private (mode 0600).
Errors name the entry, never its secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridjobs.errors import ValidationFailed
from gridjobs.device_keys.master import MasterKey, check_private
from gridjobs.device_keys.store import Conn, acquired, put_key
from gridjobs.device_keys.wrapping import MAX_SECRET_BYTES


@dataclass(frozen=True)
class ProvisionedKey:
    device_id: str
    version: int
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class ProvisionCounts:
    stored: int
    unchanged: int


def read_keys_file(path: Path) -> list[ProvisionedKey]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ValidationFailed(f"cannot read keys file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        check_private(path, os.fstat(f.fileno()))
        raw = f.read()
    try:
        entries = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{path} is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(entries, list):
        raise ValidationFailed(f"{path} must hold a JSON list of {{device_id, version, secret_b64}}")
    return _unique(path, [_entry(path, i, e) for i, e in enumerate(entries)])


def _entry(path: Path, index: int, entry: Any) -> ProvisionedKey:
    where = f"{path}: entry {index}"
    if not isinstance(entry, dict) or set(entry) != {"device_id", "version", "secret_b64"}:
        raise ValidationFailed(f"{where} must have exactly device_id, version and secret_b64")
    device_id, version, encoded = entry["device_id"], entry["version"], entry["secret_b64"]
    if not isinstance(device_id, str) or not device_id:
        raise ValidationFailed(f"{where}: device_id must be a non-empty string")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValidationFailed(f"{where} ({device_id}): version must be an integer >= 0")
    try:
        secret = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
    except (binascii.Error, ValueError):
        secret = b""
    if not 1 <= len(secret) <= MAX_SECRET_BYTES:
        raise ValidationFailed(f"{where} ({device_id} v{version}): secret_b64 must be base64 "
                               f"of 1 to {MAX_SECRET_BYTES} bytes")
    return ProvisionedKey(device_id, version, secret)


def _unique(path: Path, keys: list[ProvisionedKey]) -> list[ProvisionedKey]:
    seen: dict[tuple[str, int], ProvisionedKey] = {}
    for key in keys:
        other = seen.setdefault((key.device_id, key.version), key)
        if other.secret != key.secret:
            raise ValidationFailed(f"{path}: {key.device_id} v{key.version} appears twice "
                                   "with different secrets")
    return list(seen.values())


async def provision(conn_or_pool: Conn, master: MasterKey,
                    keys: Sequence[ProvisionedKey]) -> ProvisionCounts:
    """Store every key as 'active', all or nothing; a key already stored is left alone."""
    stored = 0
    async with acquired(conn_or_pool) as conn, conn.transaction():
        for key in keys:
            stored += await put_key(conn, master, key.device_id, key.version, key.secret, "active")
    return ProvisionCounts(stored, len(keys) - stored)
