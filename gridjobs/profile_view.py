"""`gridjobs profiles list|show`: device profiles for people at a terminal."""

from __future__ import annotations

import sys

from adapters import ProfileError, load_profile
from gridjobs.errors import ConfigError
from gridjobs.profiles import ProfileCatalog


def show_profiles(catalog: ProfileCatalog, action: str, name: str | None) -> int:
    try:
        if action == "list":
            _list(catalog)
        else:
            _show(catalog, name or "")
    except ProfileError as exc:
        raise ConfigError(str(exc)) from exc
    return 0


def _list(catalog: ProfileCatalog) -> None:
    for info in catalog.list():
        origin = "shipped" if info.shipped else info.path
        summary = info.description.split(". ")[0]
        print(f"{info.name:<24} {info.kind:<8} {origin}  {summary}")


def _show(catalog: ProfileCatalog, name: str) -> None:
    profile = load_profile(name, search_dirs=catalog.search_dirs)
    out = sys.stdout
    out.write(f"{profile.name} ({'sunspec' if profile.is_sunspec else 'static'})\n")
    if profile.description:
        out.write(f"  {profile.description}\n")
    if profile.sunspec is not None:
        out.write(f"  sunspec models: {', '.join(map(str, profile.sunspec.models))}"
                  f" at {profile.sunspec.base_address}\n")
    for point in profile.points:
        access = "rw" if point.writable else "r "
        out.write(f"  {point.address:>6}  {access}  {point.name:<28} {point.type:<8} {point.unit or ''}\n")
    out.write(f"  roles: {', '.join(sorted(profile.roles))}\n")
    out.write(f"  arming: {profile.arming}\n")
