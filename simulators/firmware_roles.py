"""The firmware roles a profile needs for a simulated RTU, and the commands a write may carry."""

from __future__ import annotations

from adapters import FIRMWARE_ROLES, Profile, Role
from adapters.limits import MAX_WRITE_REGISTERS
from adapters.roles import FIRMWARE_WRITE_ROLES

from .errors import SpecError

IMAGE_SIZE, IMAGE_VERSION = Role.FW_IMAGE_SIZE, Role.FW_IMAGE_VERSION
CHUNK_OFFSET, CHUNK_LEN, CHUNK_DATA = Role.FW_CHUNK_OFFSET, Role.FW_CHUNK_LEN, Role.FW_CHUNK_DATA
ACTIVATE, CONFIRM = Role.FW_ACTIVATE, Role.FW_CONFIRM

CHUNK_WINDOW = (CHUNK_OFFSET, CHUNK_LEN, CHUNK_DATA)
# A write request carries one command; each command is written through these roles.
COMMANDS = {
    "declare": frozenset({IMAGE_SIZE, IMAGE_VERSION}),
    "chunk": frozenset(CHUNK_WINDOW),
    "activate": frozenset({ACTIVATE}),
    "confirm": frozenset({CONFIRM}),
}
WRITABLE_ROLES = frozenset().union(*COMMANDS.values())
assert WRITABLE_ROLES == FIRMWARE_WRITE_ROLES, "every firmware write role belongs to one command"
FIRMWARE_PREFIX = "fw_"  # a static profile with some roles of this prefix must have them all


def is_rtu_profile(profile: Profile) -> bool:
    """Whether a simulated RTU serves this profile: it has every firmware role (and they are laid out right).

    A static profile with only some of the ``fw_`` roles is an error, never a plain register map.
    """
    if profile.is_sunspec:
        return False
    roles = set(profile.roles)
    if FIRMWARE_ROLES <= roles:
        _check_layout(profile)
        return True
    if partial := sorted(role for role in roles & FIRMWARE_ROLES if role.startswith(FIRMWARE_PREFIX)):
        missing = sorted(FIRMWARE_ROLES - roles)
        raise SpecError(f"profile {profile.name!r}: has firmware roles {partial} but lacks {missing}")
    return False


def _check_layout(profile: Profile) -> None:
    if read_only := sorted(role for role in WRITABLE_ROLES if not profile.point(role).writable):
        raise SpecError(f"profile {profile.name!r}: firmware roles {read_only} must be writable")
    window = [profile.point(role) for role in CHUNK_WINDOW]
    if profile.point(CHUNK_DATA).type != "bytes":
        raise SpecError(f"profile {profile.name!r}: {CHUNK_DATA!r} must be a bytes point")
    contiguous = all(before.end == after.address for before, after in zip(window, window[1:]))
    if not contiguous or window[-1].end - window[0].address > MAX_WRITE_REGISTERS:
        raise SpecError(f"profile {profile.name!r}: the chunk window {list(CHUNK_WINDOW)} must be contiguous, "
                        f"in that order, and fit one write of {MAX_WRITE_REGISTERS} registers")
