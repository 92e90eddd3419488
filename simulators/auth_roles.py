"""The auth roles a profile needs for a simulated secure load."""

from __future__ import annotations

from adapters import Profile, auth

from .errors import SpecError

AUTH_ROLES = frozenset({auth.CHALLENGE, *auth.DEPOSIT_ROLES, *auth.SLOT_ROLES, *auth.COMMAND_ROLES})


def is_secure_profile(profile: Profile) -> bool:
    """Whether a simulated secure load serves this profile: it declares ``auth`` (and has every auth role)."""
    if not profile.requires_auth:
        return False
    check_secure_profile(profile)
    return True


def check_secure_profile(profile: Profile) -> None:
    if not profile.requires_auth:
        raise SpecError(f"profile {profile.name!r} declares no 'auth'; a secure load needs it")
    if missing := sorted(role for role in AUTH_ROLES if not profile.has_role(role)):
        raise SpecError(f"profile {profile.name!r}: declares 'auth' but lacks the auth roles {missing}")
    window = [profile.point(role) for role in auth.COMMAND_ROLES]
    if not all(before.end == after.address for before, after in zip(window, window[1:])):
        raise SpecError(f"profile {profile.name!r}: the command window {list(auth.COMMAND_ROLES)} must be "
                        "contiguous, in that order (one FC16)")
    if not set(auth.COMMAND_ROLES) <= profile.critical_roles:
        raise SpecError(f"profile {profile.name!r}: the key command roles {list(auth.COMMAND_ROLES)} must be critical")
