"""Key store errors. Their messages name devices and versions, never key bytes."""

from __future__ import annotations

from gridjobs.errors import Conflict, StoreError


class KeyStoreError(StoreError):
    """A stored key could not be used: wrong master key, or a tampered or moved row."""

    status = 500
    title = "Key store error"
    type_slug = "key-store"


class KeyConflict(Conflict):
    """A key version is already stored with a different secret; versions never change."""

    title = "Key version already stored with another secret"
    type_slug = "key-conflict"
