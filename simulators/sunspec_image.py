"""The register image of a simulated SunSpec device, built from pysunspec2's model definitions.

The image is a static ``Profile`` covering every register from the "SunS" marker
to the end model: each model's points at the addresses its place in the chain
gives them, named ``"<model>.<point>"`` like the adapter's resolved layouts.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters import Point, Profile
from adapters.sunspec_models import END_MODEL_ID, HEADER_REGISTERS, MARKER_WORDS, model_def, model_points

from .errors import SpecError

DER_MODELS = (1, 103, 120, 121, 123)
BASE_ADDRESS = 40000
MARKER = "SunS"
MARKER_POINT = "SunS"
END_ID_POINT = "end.ID"
END_LENGTH_POINT = "end.L"


def image_profile(*, name: str, models: Sequence[int] = DER_MODELS, base_address: int = BASE_ADDRESS) -> Profile:
    """Marker, the models back to back, then the end model (ID 0xFFFF, L 0)."""
    points = [_register(MARKER_POINT, base_address, "string", size=len(MARKER_WORDS))]
    address = base_address + len(MARKER_WORDS)
    for model_id in models:
        if model_def(model_id).has_groups:
            raise SpecError(f"SunSpec model {model_id}: repeating groups are not simulated")
        points.extend(model_points(model_id, model_address=address))
        address += HEADER_REGISTERS + model_def(model_id).length
    points += [_register(END_ID_POINT, address, "uint16"), _register(END_LENGTH_POINT, address + 1, "uint16")]
    return Profile(name=name, points=tuple(points), source=f"SunSpec image of models {list(models)}")


def header_values(models: Sequence[int] = DER_MODELS) -> dict[str, int | str]:
    """The marker, every model's ID and L, and the end model."""
    values: dict[str, int | str] = {MARKER_POINT: MARKER, END_ID_POINT: END_MODEL_ID, END_LENGTH_POINT: 0}
    for model_id in models:
        values[f"{model_id}.ID"] = model_id
        values[f"{model_id}.L"] = model_def(model_id).length
    return values


def _register(name: str, address: int, type_: str, *, size: int | None = None) -> Point:
    return Point(name=name, role=name, address=address, type=type_, unit="", writable=False, size=size)
