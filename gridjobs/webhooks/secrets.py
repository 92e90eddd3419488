"""Webhook signing secrets: 32 random bytes, shown once as `whsec_<base64>`, kept
sealed under the master key with the device keys' sealing (AES-256-GCM bound to
the row: "webhook:<endpoint id>:<version>")."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from uuid import UUID

from gridjobs.device_keys.errors import KeyStoreError
from gridjobs.device_keys.master import MasterKey
from gridjobs.device_keys.wrapping import Sealed, seal, unseal, webhook_subject
from gridjobs.store.webhooks import SealedSecret

SECRET_BYTES = 32          # Standard Webhooks: 24 to 64 random bytes
PREFIX = "whsec_"


@dataclass(frozen=True, repr=False)
class Secret:
    material: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> "Secret":
        return cls(os.urandom(SECRET_BYTES))

    @property
    def shown(self) -> str:
        """What the owner is given, once."""
        return PREFIX + base64.b64encode(self.material).decode()

    def __repr__(self) -> str:
        return "Secret(…)"


def seal_secret(master: MasterKey, endpoint_id: UUID, version: int, secret: Secret) -> Sealed:
    return seal(master, webhook_subject(endpoint_id), version, secret.material)


def unseal_secret(master: MasterKey, sealed: SealedSecret) -> Secret:
    if sealed.master_fingerprint != master.fingerprint:
        raise KeyStoreError(f"webhook {sealed.endpoint_id} secret version {sealed.version} is sealed under "
                            f"master key {sealed.master_fingerprint}, not the one in use ({master.fingerprint})")
    return Secret(unseal(master, webhook_subject(sealed.endpoint_id), sealed.version,
                         Sealed(sealed.wrapped, sealed.nonce)))
