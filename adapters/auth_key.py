"""Authentication keys and the MAC of a critical write (DNP3 Secure Authentication style).

A critical write (one FC16 at ``address`` with ``words``) is authorised by
``HMAC-SHA256(secret, challenge || unit_id || address || len(words) || words)``,
every field big-endian: challenge 4 bytes, unit id 1, address 2, word count 2,
then 2 bytes per word. A new key travels to a device wrapped (RFC 3394) under
the key it replaces. Key bytes never appear in a repr, a message or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

KEY_BYTES = 32  # HMAC-SHA256 keys; also the AES-256 key that wraps the next one
WRAPPED_KEY_BYTES = KEY_BYTES + 8  # RFC 3394 adds one 64-bit block
MAC_BYTES = hashlib.sha256().digest_size
MAX_KEY_VERSION = 0xFFFF  # a uint16 register; 0 means "no key"


@dataclass(frozen=True, slots=True)
class AuthKey:
    """A versioned secret. Its repr and str show the version only."""

    version: int
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ValueError(f"AuthKey version must be an int, got {type(self.version).__name__}")
        if not 1 <= self.version <= MAX_KEY_VERSION:
            raise ValueError(f"AuthKey version must be in 1..{MAX_KEY_VERSION}, got {self.version}")
        if not isinstance(self.secret, (bytes, bytearray)) or len(self.secret) != KEY_BYTES:
            raise ValueError(f"AuthKey version {self.version}: the secret must be {KEY_BYTES} bytes")
        object.__setattr__(self, "secret", bytes(self.secret))

    def __repr__(self) -> str:
        return f"AuthKey(version={self.version})"

    __str__ = __repr__

    def mac(self, *, challenge: int, unit_id: int, address: int, words: Sequence[int]) -> bytes:
        """The MAC that authorises writing ``words`` at ``address`` of ``unit_id`` under ``challenge``."""
        message = auth_message(challenge=challenge, unit_id=unit_id, address=address, words=words)
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def verifies(self, mac: bytes, *, challenge: int, unit_id: int, address: int, words: Sequence[int]) -> bool:
        expected = self.mac(challenge=challenge, unit_id=unit_id, address=address, words=words)
        return hmac.compare_digest(expected, bytes(mac))

    def matches(self, secret: bytes) -> bool:
        """Whether ``secret`` is this key's secret (compared in constant time)."""
        return hmac.compare_digest(self.secret, bytes(secret))


def auth_message(*, challenge: int, unit_id: int, address: int, words: Sequence[int]) -> bytes:
    head = challenge.to_bytes(4, "big") + unit_id.to_bytes(1, "big")
    head += address.to_bytes(2, "big") + len(words).to_bytes(2, "big")
    return head + b"".join(word.to_bytes(2, "big") for word in words)


def wrap_key(key: AuthKey, *, under: AuthKey) -> bytes:
    """``key``'s secret wrapped (AES key wrap) under ``under``'s: the argument of a STAGE command."""
    return aes_key_wrap(under.secret, key.secret)


def unwrap_key(wrapped: bytes, *, version: int, under: AuthKey) -> AuthKey:
    """The key ``wrap_key`` wrapped; ``ValueError`` (without key bytes) if it does not unwrap under ``under``."""
    try:
        secret = aes_key_unwrap(under.secret, bytes(wrapped[:WRAPPED_KEY_BYTES]))
    except (InvalidUnwrap, ValueError):
        raise ValueError(f"the wrapped key for version {version} does not unwrap under key version "
                         f"{under.version}") from None
    return AuthKey(version, secret)
