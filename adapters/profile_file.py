"""Load profiles from JSON files; every problem names the file, the point and what is wrong."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ProfileError
from .profile import Point, Profile

PROFILE_PACKAGE = "adapters"
PROFILE_DIRECTORY = "profiles"
PROFILE_NAME_PATTERN = re.compile(r"[a-z0-9_]+")

_TOP_LEVEL_FIELDS = frozenset({"name", "description", "points"})
_REQUIRED_POINT_FIELDS = ("name", "address", "type", "unit", "writable")
_OPTIONAL_POINT_FIELDS = ("role", "word_order", "scale", "minimum", "maximum")
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "role": (str,),
    "address": (int,),
    "type": (str,),
    "unit": (str,),
    "writable": (bool,),
    "word_order": (str,),
    "scale": (int, float),
    "minimum": (int, float),
    "maximum": (int, float),
}


def load_profile(name: str) -> Profile:
    """Load a profile shipped in ``adapters/profiles/<name>.json``."""
    if not PROFILE_NAME_PATTERN.fullmatch(name):
        raise ProfileError(f"profile name {name!r} must match {PROFILE_NAME_PATTERN.pattern}")
    resource = resources.files(PROFILE_PACKAGE) / PROFILE_DIRECTORY / f"{name}.json"
    if not resource.is_file():
        raise ProfileError(f"no shipped profile named {name!r} ({resource})")
    profile = parse_profile(resource.read_text(encoding="utf-8"), source=str(resource))
    if profile.name != name:
        raise ProfileError(f"{resource}: declares name {profile.name!r}, expected {name!r}")
    return profile


def load_profile_file(path: str | Path) -> Profile:
    """Load a profile from any JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from exc
    return parse_profile(text, source=str(path))


def parse_profile(text: str, *, source: str) -> Profile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{source}: not valid JSON: {exc}") from exc
    _check_top_level(document, source)
    points = tuple(
        _parse_point(entry, index=index, source=source)
        for index, entry in enumerate(document["points"])
    )
    return Profile(name=document["name"], points=points, source=source)


def _check_top_level(document: Any, source: str) -> None:
    if not isinstance(document, dict):
        raise ProfileError(f"{source}: top level must be an object")
    if unknown := sorted(set(document) - _TOP_LEVEL_FIELDS):
        raise ProfileError(f"{source}: unknown top-level fields {unknown}")
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise ProfileError(f"{source}: 'name' must be a non-empty string")
    if not isinstance(document.get("points"), list) or not document["points"]:
        raise ProfileError(f"{source}: 'points' must be a non-empty list")


def _parse_point(entry: Any, *, index: int, source: str) -> Point:
    label = _point_label(entry, index)
    if not isinstance(entry, dict):
        raise ProfileError(f"{source}: {label}: must be an object")
    if problem := _field_problem(entry):
        raise ProfileError(f"{source}: {label}: {problem}")
    fields = dict(entry)
    fields.setdefault("role", fields["name"])
    try:
        return Point(**fields)
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from exc


def _point_label(entry: Any, index: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return f"point {entry['name']!r}"
    return f"point #{index}"


def _field_problem(entry: dict[str, Any]) -> str | None:
    if missing := [name for name in _REQUIRED_POINT_FIELDS if name not in entry]:
        return f"missing fields {missing}"
    if unknown := sorted(set(entry) - set(_REQUIRED_POINT_FIELDS) - set(_OPTIONAL_POINT_FIELDS)):
        return f"unknown fields {unknown}"
    for name, value in entry.items():
        if not _has_type(value, _FIELD_TYPES[name]):
            wanted = " or ".join(kind.__name__ for kind in _FIELD_TYPES[name])
            return f"field {name!r} must be {wanted}, got {value!r}"
    return None


def _has_type(value: Any, kinds: tuple[type, ...]) -> bool:
    # bool is an int in Python; a JSON true is never a number here.
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)
