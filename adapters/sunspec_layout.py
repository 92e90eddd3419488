"""Resolve a SunSpec profile into a static one, from the model chain a device reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ProfileError
from .limits import MAX_READ_REGISTERS
from .point import Point
from .profile import Profile
from .sunspec_models import model_def, split_ref, to_point


@dataclass(frozen=True, slots=True)
class ModelHeader:
    """One model in a device's chain: its ID register sits at ``address``; ``length`` is its L."""

    id: int
    address: int
    length: int


def missing_models(profile: Profile, headers: tuple[ModelHeader, ...]) -> list[str]:
    """What the device lacks for this profile: absent models, or models shorter than defined."""
    found = {header.id: header for header in headers}
    problems = []
    for model_id in profile.sunspec.models:
        header = found.get(model_id)
        if header is None:
            problems.append(f"model {model_id} is missing")
        elif header.length < model_def(model_id).length:
            needed = model_def(model_id).length
            problems.append(f"model {model_id} has L={header.length}, the definition needs {needed}")
    return problems


def resolve(profile: Profile, *, models: Mapping[int, int]) -> Profile:
    """A static profile with each role's point (and its scale factor) at the device's addresses.

    ``models`` maps a model id to the address of its ID register; the first
    instance counts when a device repeats a model.
    """
    if profile.sunspec is None:
        raise ProfileError(f"profile {profile.name!r} is not a SunSpec profile")
    points: dict[str, Point] = {}
    for binding in profile.bindings:
        model_id, name = split_ref(binding.point)
        point = to_point(model_id, name, model_address=models[model_id])
        points[point.name] = point
        if point.scale_factor is not None:
            _, sf_name = split_ref(point.scale_factor)
            points[point.scale_factor] = to_point(model_id, sf_name, model_address=models[model_id])
    return Profile(
        name=profile.name,
        points=tuple(points.values()),
        bindings=profile.bindings,
        description=profile.description,
        read_gap=MAX_READ_REGISTERS,  # every register of a SunSpec map is readable
        allow_unarmed=profile.allow_unarmed,
        source=f"{profile.source} (resolved)",
    )


def first_instances(headers: tuple[ModelHeader, ...]) -> dict[int, int]:
    models: dict[int, int] = {}
    for header in headers:
        models.setdefault(header.id, header.address)
    return models
