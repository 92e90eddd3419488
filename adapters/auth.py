"""Authenticated critical writes as profile data: which roles are critical, and the auth registers.

A profile that declares ``"auth": {"critical_roles": [...]}`` names the roles
whose writes a device accepts only after a MAC deposit (see ``auth_key``). The
deposit registers (``auth_key_version`` then ``auth_mac``, contiguous: one
FC16) and the challenge are required; the key-slot status and the command
window (``auth_cmd``, ``auth_cmd_version``, ``auth_cmd_arg``, contiguous) are
used by ``DeviceClient.key_slots`` and ``DeviceClient.auth_command``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .auth_key import MAC_BYTES
from .errors import ProfileError
from .point import Point
from .roles import Role

CHALLENGE, KEY_VERSION, MAC = Role.AUTH_CHALLENGE, Role.AUTH_KEY_VERSION, Role.AUTH_MAC
ACTIVE_VERSION, PENDING_VERSION = Role.AUTH_ACTIVE_VERSION, Role.AUTH_PENDING_VERSION
PREVIOUS_VERSION, PENDING_STATE = Role.AUTH_PREVIOUS_VERSION, Role.AUTH_PENDING_STATE
COMMAND, COMMAND_VERSION, COMMAND_ARG = Role.AUTH_CMD, Role.AUTH_CMD_VERSION, Role.AUTH_CMD_ARG

DEPOSIT_ROLES = (KEY_VERSION, MAC)
COMMAND_ROLES = (COMMAND, COMMAND_VERSION, COMMAND_ARG)
SLOT_ROLES = (ACTIVE_VERSION, PENDING_VERSION, PREVIOUS_VERSION, PENDING_STATE)
NOT_AUTHENTICATED = 1  # Modbus ILLEGAL FUNCTION: reserved in auth profiles for "not authenticated"


class KeyOp(enum.IntEnum):
    """Key commands, written to ``auth_cmd``; each is itself a critical write."""

    STAGE = 1  # arg: the new key wrapped under the active one; MAC: active key
    VERIFY = 2  # MAC: the pending key (proves the device holds it)
    ACTIVATE = 3  # MAC: the active (old) key; pending must be verified
    CONFIRM = 4  # MAC: the new active key
    RETIRE = 5  # MAC: the active key; drops the previous key
    REVERT = 6  # MAC: the previous key; it becomes active again
    ABORT_PENDING = 7  # MAC: the active key; drops the pending key


class PendingState(enum.IntEnum):
    EMPTY = 0
    STAGED = 1
    VERIFIED = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySlots:
    """Key versions a device holds; None where a slot is empty."""

    active: int
    pending: int | None
    previous: int | None
    pending_state: PendingState

    def as_values(self) -> dict[str, int]:
        """Plain ints (0 for an empty slot), for crossing Ray or JSON; ``from_values`` reads them back."""
        return {"active": self.active, "pending": self.pending or 0, "previous": self.previous or 0,
                "pending_state": int(self.pending_state)}

    @classmethod
    def from_values(cls, values: Mapping[str, int]) -> KeySlots:
        """The slots ``as_values`` gave; ``KeyError`` or ``ValueError`` if ``values`` is not that shape."""
        return cls(active=int(values["active"]), pending=int(values["pending"]) or None,
                   previous=int(values["previous"]) or None, pending_state=PendingState(int(values["pending_state"])))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthPolicy:
    """The roles whose writes must be authenticated."""

    critical_roles: tuple[str, ...]

    def __post_init__(self) -> None:
        roles = self.critical_roles
        if not roles or not all(isinstance(role, str) and role for role in roles):
            raise ProfileError(f"auth: 'critical_roles' must be a non-empty list of role names, got {list(roles)}")
        if len(set(roles)) != len(roles):
            raise ProfileError(f"auth: 'critical_roles' lists a role twice: {list(roles)}")


def check_auth_layout(policy: AuthPolicy, point: Callable[[str], Point], has_role: Callable[[str], bool]) -> None:
    """``ProfileError`` unless the critical roles are writable points and the deposit fits one FC16."""
    for role in (*policy.critical_roles, CHALLENGE, *DEPOSIT_ROLES):
        if not has_role(role):
            raise ProfileError(f"auth: the profile has no role {role!r}")
    if read_only := [role for role in policy.critical_roles if not point(role).writable]:
        raise ProfileError(f"auth: critical roles {read_only} must be writable")
    version, mac = point(KEY_VERSION), point(MAC)
    if not (version.writable and mac.writable and version.end == mac.address):
        raise ProfileError(f"auth: {KEY_VERSION!r} and {MAC!r} must be writable and contiguous, in that order")
    if mac.type != "bytes" or 2 * mac.register_count != MAC_BYTES:
        raise ProfileError(f"auth: {MAC!r} must be a bytes point of {MAC_BYTES // 2} registers")
    if overlap := sorted(set(policy.critical_roles) & {CHALLENGE, *DEPOSIT_ROLES}):
        raise ProfileError(f"auth: the challenge and the MAC deposit cannot be critical, got {overlap}")
