"""What gridjobs needs to know of device profiles: which exist, which roles they have."""

from __future__ import annotations

import functools

from adapters import ProfileError, load_profile

DER_ROLES = frozenset({"measured_kw", "max_kw", "curtail_setpoint_pct", "revert_timeout_s"})


@functools.lru_cache(maxsize=256)
def profile_roles(name: str) -> frozenset[str] | None:
    """The roles of profile `name`, or None if there is no such profile."""
    try:
        return frozenset(load_profile(name).roles)
    except ProfileError:
        return None


def supports(name: str, roles: frozenset[str]) -> bool:
    found = profile_roles(name)
    return found is not None and roles <= found
