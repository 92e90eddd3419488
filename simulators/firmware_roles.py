"""The firmware roles a profile needs for a simulated RTU, and the commands a write may carry."""

from __future__ import annotations

from adapters import Profile
from adapters.limits import MAX_WRITE_REGISTERS

from .errors import SpecError

VERSION, ACTIVE_BANK, STATE = "firmware_version", "fw_active_bank", "fw_state"
STAGED_BYTES, STAGED_CRC = "fw_staged_bytes", "fw_staged_crc"
IMAGE_SIZE, IMAGE_VERSION = "fw_image_size", "fw_image_version"
CHUNK_OFFSET, CHUNK_LEN, CHUNK_DATA = "fw_chunk_offset", "fw_chunk_len", "fw_chunk_data"
ACTIVATE, CONFIRM = "fw_activate", "fw_confirm"

CHUNK_WINDOW = (CHUNK_OFFSET, CHUNK_LEN, CHUNK_DATA)
# A write request carries one command; each command is written through these roles.
COMMANDS = {
    "declare": frozenset({IMAGE_SIZE, IMAGE_VERSION}),
    "chunk": frozenset(CHUNK_WINDOW),
    "activate": frozenset({ACTIVATE}),
    "confirm": frozenset({CONFIRM}),
}
WRITABLE_ROLES = frozenset().union(*COMMANDS.values())
FIRMWARE_ROLES = WRITABLE_ROLES | {VERSION, ACTIVE_BANK, STATE, STAGED_BYTES, STAGED_CRC}


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
    if partial := sorted(role for role in roles & FIRMWARE_ROLES if role.startswith("fw_")):
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
