"""Device keys: the master key file, the encrypted key store, the audit log."""

from gridjobs.device_keys.audit import AuditEntry, AuditRecord, record_audit
from gridjobs.device_keys.errors import KeyConflict, KeyStoreError
from gridjobs.device_keys.keyring import Keyring
from gridjobs.device_keys.master import MasterKey, ensure_master_key, load_master_key
from gridjobs.device_keys.store import (
    KEY_STATES, KeyRecord, KeySlot, abandon_rotation, finish_rotation, get_secret, keys_for, put_key,
    rewrap_all, set_state, slots,
)

__all__ = [
    "AuditEntry", "AuditRecord", "record_audit", "KeyConflict", "KeyStoreError", "Keyring",
    "MasterKey", "ensure_master_key", "load_master_key", "KEY_STATES", "KeyRecord", "KeySlot",
    "abandon_rotation", "finish_rotation", "get_secret", "keys_for", "put_key", "rewrap_all",
    "set_state", "slots",
]
