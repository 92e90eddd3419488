"""API tokens: `gjt_<id>_<secret>`, 256 random bits of secret behind a public id.

The store keeps the id and the SHA-256 of the secret, never the token. A
check compares digests in constant time, and an unknown id is checked against
a dummy digest, so an unknown token and a wrong one look the same from outside.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

PREFIX = "gjt_"
ID_BYTES = 8          # 16 hex digits, public: it finds the row
SECRET_BYTES = 32     # 256 bits
_FORMAT = re.compile(r"^gjt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_DUMMY_DIGEST = hashlib.sha256(b"no such token").digest()


@dataclass(frozen=True)
class IssuedToken:
    id: str
    secret_sha256: bytes
    token: str = field(repr=False)   # shown once, to whoever created it


def issue() -> IssuedToken:
    token_id, secret = secrets.token_hex(ID_BYTES), secrets.token_urlsafe(SECRET_BYTES)
    return IssuedToken(token_id, digest(secret), f"{PREFIX}{token_id}_{secret}")


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token; None for anything else."""
    match = _FORMAT.match(token)
    return (match[1], match[2]) if match else None


def matches(secret: str, stored_sha256: bytes | None) -> bool:
    """Constant time, and the same work whether the id was known or not."""
    return hmac.compare_digest(digest(secret), stored_sha256 or _DUMMY_DIGEST) and stored_sha256 is not None


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)
