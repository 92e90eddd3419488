"""SunSpec model definitions come from pysunspec2; layouts resolve from a model chain; the image is SunSpec."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from adapters import load_profile
from adapters.sunspec_layout import ModelHeader, first_instances, missing_models, resolve
from adapters.sunspec_models import model_def, to_point
from simulators.sunspec_image import header_values, image_profile

CHAIN = {1: 40002, 103: 40070, 120: 40122, 121: 40150, 123: 40182}


def pysunspec2_offsets(model_id: int) -> dict[str, int]:
    """Offsets computed straight from pysunspec2's JSON, as a cross-check."""
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    offsets, offset = {}, 0
    for entry in json.loads(path.read_text())["group"]["points"]:
        offsets[entry["name"]] = offset
        offset += entry.get("size", 1)
    return offsets


@pytest.mark.parametrize("model_id", [1, 103, 120, 121, 123])
def test_offsets_and_lengths_follow_pysunspec2(model_id):
    definition = model_def(model_id)
    assert {p.name: p.offset for p in definition.points} == pysunspec2_offsets(model_id)
    assert definition.length == sum(p.size for p in definition.points) - 2


def test_points_carry_sunspec_types_scale_factors_and_markers():
    w = to_point(103, "W", model_address=40070)
    assert (w.name, w.type, w.scale_factor, w.not_implemented, w.writable) == ("103.W", "int16", "103.W_SF", -0x8000, False)
    ena = to_point(123, "WMaxLim_Ena", model_address=40182)
    assert ena.type == "enum16" and ena.writable and dict(ena.symbols) == {"DISABLED": 0, "ENABLED": 1}
    assert to_point(1, "Mn", model_address=40002).register_count == 16


def test_resolve_places_roles_at_the_device_addresses_with_their_scale_factors():
    layout = resolve(load_profile("sunspec_der"), models=CHAIN)
    measured = layout.point("measured_kw")
    assert (measured.address, measured.scale, measured.unit) == (40070 + 14, 0.001, "kW")
    assert layout.scale_factor_point(measured).address == 40070 + 15
    setpoint = layout.point("curtail_setpoint_pct")
    assert (setpoint.minimum, setpoint.maximum, setpoint.writable) == (0, 100, True)
    assert layout.point("curtail_enable").address == 40182 + 9
    assert not layout.is_sunspec and layout.read_gap > 0


def test_missing_and_short_models_are_reported():
    profile = load_profile("sunspec_der")
    headers = (ModelHeader(1, 40002, 66), ModelHeader(103, 40070, 10))
    assert missing_models(profile, headers) == [
        "model 103 has L=10, the definition needs 50", "model 120 is missing", "model 121 is missing",
        "model 123 is missing",
    ]
    assert first_instances((ModelHeader(1, 5, 66), ModelHeader(1, 73, 66))) == {1: 5}


def test_simulator_image_is_a_contiguous_sunspec_map():
    image = image_profile(name="sunspec_der")
    points = sorted(image.points, key=lambda p: p.address)
    assert points[0].address == 40000 and points[0].name == "SunS"
    assert all(a.end == b.address for a, b in zip(points, points[1:])), "no holes between models"
    headers = header_values()
    assert [headers[f"{m}.L"] for m in (1, 103, 120, 121, 123)] == [66, 50, 26, 30, 24]
    assert image.point_named("123.ID").address == CHAIN[123]
    assert image.point_named("end.ID").address == 40182 + 26
