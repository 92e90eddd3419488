"""Turn a parsed profile document (from JSON or TOML) into a ``Profile``.

Every problem names the source file, the point or role, and what is wrong.
"""

from __future__ import annotations

from typing import Any

from .auth import AuthPolicy
from .errors import ProfileError
from .point import Point
from .profile import Profile, RoleBinding, SunSpecMap

_TOP_LEVEL_FIELDS = frozenset({"name", "description", "points", "roles", "sunspec", "read_gap", "auth",
                               "allow_unarmed"})
# `writable` is required on purpose: write access is never implied.
_REQUIRED_POINT_FIELDS = ("name", "address", "type", "writable")
_NUMBER = (int, float)
_POINT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "role": (str,), "address": (int,), "type": (str,), "unit": (str,),
    "writable": (bool,), "word_order": (str,), "byte_order": (str,), "scale": _NUMBER, "scale_factor": (str,),
    "size": (int,), "minimum": _NUMBER, "maximum": _NUMBER, "not_implemented": (int,), "symbols": (dict,),
}
_ROLE_FIELDS: dict[str, tuple[type, ...]] = {
    "point": (str,), "multiplier": _NUMBER, "unit": (str,), "minimum": _NUMBER, "maximum": _NUMBER,
}
_SUNSPEC_FIELDS: dict[str, tuple[type, ...]] = {"models": (list,), "base_address": (int,)}
_AUTH_FIELDS: dict[str, tuple[type, ...]] = {"critical_roles": (list,)}


def profile_from_document(document: Any, *, source: str) -> Profile:
    _check_top_level(document, source)
    points = tuple(_parse_point(entry, index=i, source=source) for i, entry in enumerate(document.get("points", ())))
    roles = document.get("roles", {})
    if not isinstance(roles, dict):
        raise ProfileError(f"{source}: 'roles' must be an object of role -> point")
    bindings = tuple(_parse_role(role, entry, source=source) for role, entry in roles.items())
    try:
        return Profile(
            name=document["name"], points=points, bindings=bindings, source=source,
            sunspec=_parse_sunspec(document.get("sunspec"), source=source),
            description=document.get("description", ""), read_gap=document.get("read_gap", 0),
            auth=_parse_auth(document.get("auth"), source=source),
            allow_unarmed=document.get("allow_unarmed", False),
        )
    except ProfileError as exc:
        message = str(exc)
        raise ProfileError(message if message.startswith(source) else f"{source}: {message}") from exc


def _check_top_level(document: Any, source: str) -> None:
    if not isinstance(document, dict):
        raise ProfileError(f"{source}: top level must be an object")
    if unknown := sorted(set(document) - _TOP_LEVEL_FIELDS):
        raise ProfileError(f"{source}: unknown top-level fields {unknown}")
    if not isinstance(document.get("name"), str) or not document["name"]:
        raise ProfileError(f"{source}: 'name' must be a non-empty string")
    if "sunspec" in document:
        if "points" in document:
            raise ProfileError(f"{source}: a SunSpec profile binds 'roles' to model points; drop 'points'")
        return
    if not isinstance(document.get("points"), list) or not document["points"]:
        raise ProfileError(f"{source}: 'points' must be a non-empty list")


def _parse_point(entry: Any, *, index: int, source: str) -> Point:
    label = _point_label(entry, index)
    if not isinstance(entry, dict):
        raise ProfileError(f"{source}: {label}: must be an object")
    if problem := _field_problem(entry, _POINT_FIELDS, required=_REQUIRED_POINT_FIELDS):
        raise ProfileError(f"{source}: {label}: {problem}")
    fields = dict(entry)
    fields.setdefault("role", fields["name"])
    fields.setdefault("unit", "")
    if "symbols" in fields:
        fields["symbols"] = _symbols(fields["symbols"], label=label, source=source)
    try:
        return Point(**fields)
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from exc


def _symbols(symbols: dict[str, Any], *, label: str, source: str) -> tuple[tuple[str, int], ...]:
    for name, value in symbols.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(f"{source}: {label}: symbol {name!r} must be an int, got {value!r}")
    return tuple(sorted(symbols.items(), key=lambda item: item[1]))


def _parse_role(role: str, entry: Any, *, source: str) -> RoleBinding:
    fields = {"point": entry} if isinstance(entry, str) else entry
    if not isinstance(fields, dict):
        raise ProfileError(f"{source}: role {role!r}: must be a point name or an object")
    if problem := _field_problem(fields, _ROLE_FIELDS, required=("point",)):
        raise ProfileError(f"{source}: role {role!r}: {problem}")
    try:
        return RoleBinding(role=role, **fields)
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from exc


def _parse_sunspec(entry: Any, *, source: str) -> SunSpecMap | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ProfileError(f"{source}: 'sunspec' must be an object")
    if problem := _field_problem(entry, _SUNSPEC_FIELDS, required=("models",)):
        raise ProfileError(f"{source}: sunspec: {problem}")
    models = entry["models"]
    if not all(isinstance(m, int) and not isinstance(m, bool) for m in models):
        raise ProfileError(f"{source}: sunspec: 'models' must list model ids, got {models!r}")
    return SunSpecMap(models=tuple(models), base_address=entry.get("base_address", 40000))


def _parse_auth(entry: Any, *, source: str) -> AuthPolicy | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ProfileError(f"{source}: 'auth' must be an object")
    if problem := _field_problem(entry, _AUTH_FIELDS, required=("critical_roles",)):
        raise ProfileError(f"{source}: auth: {problem}")
    try:
        return AuthPolicy(critical_roles=tuple(entry["critical_roles"]))
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from exc


def _point_label(entry: Any, index: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return f"point {entry['name']!r}"
    return f"point #{index}"


def _field_problem(
    entry: dict[str, Any], types: dict[str, tuple[type, ...]], *, required: tuple[str, ...]
) -> str | None:
    if missing := [name for name in required if name not in entry]:
        return f"missing fields {missing}"
    if unknown := sorted(set(entry) - set(types)):
        return f"unknown fields {unknown}"
    for name, value in entry.items():
        if not _has_type(value, types[name]):
            wanted = " or ".join(kind.__name__ for kind in types[name])
            return f"field {name!r} must be {wanted}, got {value!r}"
    return None


def _has_type(value: Any, kinds: tuple[type, ...]) -> bool:
    # bool is an int in Python; a JSON true is never a number here.
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)
