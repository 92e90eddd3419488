"""Find, load and list profile files: shipped ones in ``adapters/profiles`` and users' own.

A profile is a JSON or TOML file named ``<name>.json`` or ``<name>.toml``. Users
add one by dropping a file into a directory passed as ``search_dirs``. A name
defined twice (a user file shadowing a shipped one, or two user files) is an
error, never a silent choice.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ProfileError
from .profile import Profile
from .profile_document import profile_from_document

PROFILE_PACKAGE = "adapters"
PROFILE_DIRECTORY = "profiles"
PROFILE_NAME_PATTERN = re.compile(r"[a-z0-9_]+")
PROFILE_FORMATS = {".json": "json", ".toml": "toml"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileInfo:
    """A profile found on disk: where it is, whether it ships with gridjobs, what it is."""

    name: str
    path: str
    shipped: bool
    kind: str  # "static" or "sunspec"
    description: str


def load_profile(name: str, *, search_dirs: Sequence[str | Path] = ()) -> Profile:
    """Load the profile ``name``: shipped, or from one of ``search_dirs``."""
    if not PROFILE_NAME_PATTERN.fullmatch(name):
        raise ProfileError(f"profile name {name!r} must match {PROFILE_NAME_PATTERN.pattern}")
    found = _files(search_dirs).get(name, [])
    if not found:
        where = ", ".join([str(_shipped_dir()), *map(str, search_dirs)])
        raise ProfileError(f"no shipped profile or profile file named {name!r} (looked in {where})")
    path, _ = _single(name, found)
    return _load_named(path, name)


def list_profiles(*, search_dirs: Sequence[str | Path] = ()) -> list[ProfileInfo]:
    """Every profile, shipped and user, sorted by name. Each file is loaded, so a broken one raises."""
    infos = []
    for name, found in sorted(_files(search_dirs).items()):
        path, shipped = _single(name, found)
        profile = _load_named(path, name)
        kind = "sunspec" if profile.is_sunspec else "static"
        infos.append(
            ProfileInfo(name=name, path=str(path), shipped=shipped, kind=kind, description=profile.description)
        )
    return infos


def load_profile_file(path: str | Path) -> Profile:
    """Load a profile from any JSON or TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from exc
    return parse_profile(text, source=str(path), format=PROFILE_FORMATS.get(path.suffix, "json"))


def parse_profile(text: str, *, source: str, format: str = "json") -> Profile:
    """Parse profile text; ``format`` is ``"json"`` or ``"toml"``."""
    return profile_from_document(_parse_text(text, source=source, format=format), source=source)


def _parse_text(text: str, *, source: str, format: str) -> Any:
    if format == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"{source}: not valid JSON: {exc}") from exc
    if format == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{source}: not valid TOML: {exc}") from exc
    raise ProfileError(f"{source}: unknown profile format {format!r} (known: json, toml)")


def _load_named(path: Path, name: str) -> Profile:
    profile = load_profile_file(path)
    if profile.name != name:
        raise ProfileError(f"{path}: declares name {profile.name!r}, expected {name!r} (the file name)")
    return profile


def _single(name: str, found: list[tuple[Path, bool]]) -> tuple[Path, bool]:
    if len(found) > 1:
        paths = ", ".join(str(path) for path, _ in found)
        raise ProfileError(
            f"profile {name!r} is defined more than once ({paths}); a user profile may not shadow another"
        )
    return found[0]


def _files(search_dirs: Sequence[str | Path]) -> dict[str, list[tuple[Path, bool]]]:
    found: dict[str, list[tuple[Path, bool]]] = {}
    for directory, shipped in [(_shipped_dir(), True), *((Path(d), False) for d in search_dirs)]:
        for path in _profile_files(directory):
            found.setdefault(path.stem, []).append((path, shipped))
    return found


def _profile_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ProfileError(f"{directory}: profile directory does not exist or is not a directory")
    paths = sorted(p for p in directory.iterdir() if p.suffix in PROFILE_FORMATS and p.is_file())
    for path in paths:
        if not PROFILE_NAME_PATTERN.fullmatch(path.stem):
            raise ProfileError(f"{path}: profile file names must match {PROFILE_NAME_PATTERN.pattern}")
    return paths


def _shipped_dir() -> Path:
    return Path(str(resources.files(PROFILE_PACKAGE) / PROFILE_DIRECTORY))
