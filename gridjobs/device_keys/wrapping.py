"""Sealing device secrets under the master key: AES-256-GCM, bound to their row.

The associated data is "<device_id>:<version>", so a ciphertext copied to
another device or version fails to open. Pure functions, no IO.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridjobs.device_keys.errors import KeyStoreError
from gridjobs.device_keys.master import MasterKey

NONCE_BYTES = 12
MAX_SECRET_BYTES = 1024


@dataclass(frozen=True, repr=False)
class Sealed:
    wrapped: bytes
    nonce: bytes

    def __repr__(self) -> str:
        return f"Sealed({len(self.wrapped)} bytes)"


def webhook_subject(endpoint_id: object) -> str:
    """Webhook signing secrets are sealed the same way, under this name in place of a device id."""
    return f"webhook:{endpoint_id}"


def row_binding(device_id: str, version: int) -> bytes:
    return f"{device_id}:{version}".encode()


def seal(master: MasterKey, device_id: str, version: int, secret: bytes) -> Sealed:
    if not isinstance(secret, bytes) or not 1 <= len(secret) <= MAX_SECRET_BYTES:
        raise KeyStoreError(f"key for device {device_id!r} version {version}: a secret is "
                            f"1 to {MAX_SECRET_BYTES} bytes")
    nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(master.material).encrypt(nonce, secret, row_binding(device_id, version))
    return Sealed(wrapped, nonce)


def unseal(master: MasterKey, device_id: str, version: int, sealed: Sealed) -> bytes:
    try:
        return AESGCM(master.material).decrypt(sealed.nonce, sealed.wrapped,
                                               row_binding(device_id, version))
    except (InvalidTag, ValueError):
        # No chaining: nothing about the ciphertext should travel with the error.
        raise KeyStoreError(
            f"key for device {device_id!r} version {version} does not decrypt: "
            "wrong master key, or the stored row was altered or moved") from None
