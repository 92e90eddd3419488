"""What gridjobs needs to know of device profiles: which exist, which roles they have.

Shipped profiles live in `adapters/profiles`; users add their own by dropping
files into a profiles directory (`GRIDJOBS_PROFILES_DIR` / `--profiles-dir`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from adapters import (
    CURTAIL_ROLES, DER_ROLES, GENERATION_ROLE, Profile, ProfileError, ProfileInfo, list_profiles, load_profile,
)


class ProfileCatalog:
    def __init__(self, search_dirs: Sequence[Path] = ()) -> None:
        self.search_dirs = tuple(str(d) for d in search_dirs)
        self._loaded: dict[str, Profile] = {}

    def _profile(self, name: str) -> Profile | None:
        """Profile `name`, loaded once; None if there is no such (valid) profile.

        Misses are not cached: names come from clients, and a client must not be
        able to grow this cache (a profile file added later is found, too).
        """
        if name not in self._loaded:
            try:
                self._loaded[name] = load_profile(name, search_dirs=self.search_dirs)
            except ProfileError:
                return None
        return self._loaded[name]

    def roles(self, name: str) -> frozenset[str] | None:
        """The roles of profile `name`, or None if there is no such profile."""
        profile = self._profile(name)
        return None if profile is None else frozenset(profile.roles)

    def exists(self, name: str) -> bool:
        return self._profile(name) is not None

    def supports(self, name: str, roles: frozenset[str]) -> bool:
        found = self.roles(name)
        return found is not None and roles <= found

    def is_load(self, name: str) -> bool:
        """Curtailable consumption: shedding it lowers demand."""
        roles = self.roles(name)
        return roles is not None and CURTAIL_ROLES <= roles and GENERATION_ROLE not in roles

    def is_der(self, name: str) -> bool:
        """Curtailable generation (an inverter with WMax and a WMaxLimPct)."""
        return self.supports(name, DER_ROLES)

    def requires_auth(self, name: str) -> bool:
        """Critical writes to this device type carry an HMAC (key rotation applies)."""
        profile = self._profile(name)
        return profile is not None and bool(profile.requires_auth)

    def list(self) -> list[ProfileInfo]:
        return list_profiles(search_dirs=self.search_dirs)
