"""Profiles as data: user directories, TOML, listing, role bindings, SunSpec profiles."""

from __future__ import annotations

import json

import pytest

from adapters import ProfileError, ProfileInfo, list_profiles, load_profile, load_profile_file

POINT = {"name": "w", "address": 0, "type": "int16", "unit": "W", "writable": False}
SHIPPED = {"controllable_load", "feeder_controller", "rtu", "secure_load", "sunspec_der"}

HEAT_PUMP_TOML = """
name = "heat_pump"
description = "A heat pump with a power limit"

[[points]]
name = "power_w"
address = 0
type = "int32"
word_order = "little"
unit = "W"
writable = false

[[points]]
name = "limit_pct"
address = 2
type = "uint16"
unit = "%"
writable = true
minimum = 0
maximum = 100

[[points]]
name = "revert_timeout_s"   # next to limit_pct: one FC16 arms the timer with the limit
address = 3
type = "uint16"
unit = "s"
writable = true

[roles]
measured_kw = {point = "power_w", multiplier = 0.001, unit = "kW"}
curtail_setpoint_pct = "limit_pct"
"""


def test_shipped_profiles_are_listed():
    infos = list_profiles()
    assert {info.name for info in infos} == SHIPPED
    assert all(isinstance(info, ProfileInfo) and info.shipped for info in infos)
    assert {info.name: info.kind for info in infos}["sunspec_der"] == "sunspec"


def test_user_profile_in_toml_loads_from_a_search_dir(tmp_path):
    (tmp_path / "heat_pump.toml").write_text(HEAT_PUMP_TOML)
    profile = load_profile("heat_pump", search_dirs=[tmp_path])
    measured = profile.point("measured_kw")
    assert (measured.address, measured.word_order, measured.scale, measured.unit) == (0, "little", 0.001, "kW")
    assert profile.point("power_w").scale == 1.0, "the point keeps its own role and scale"
    assert profile.has_role("curtail_setpoint_pct") and not profile.has_role("curtail_enable")
    listed = {info.name: info for info in list_profiles(search_dirs=[tmp_path])}
    assert set(listed) == SHIPPED | {"heat_pump"} and not listed["heat_pump"].shipped
    assert listed["heat_pump"].path == str(tmp_path / "heat_pump.toml")
    with pytest.raises(ProfileError, match="no shipped profile or profile file named 'heat_pump'"):
        load_profile("heat_pump")


def test_user_profile_may_not_shadow_a_shipped_one(tmp_path):
    (tmp_path / "controllable_load.json").write_text(json.dumps({"name": "controllable_load", "points": [POINT]}))
    with pytest.raises(ProfileError, match="'controllable_load' is defined more than once") as info:
        load_profile("controllable_load", search_dirs=[tmp_path])
    assert str(tmp_path / "controllable_load.json") in str(info.value)
    with pytest.raises(ProfileError, match="defined more than once"):
        list_profiles(search_dirs=[tmp_path])


def test_two_user_files_with_one_name_are_an_error(tmp_path):
    (tmp_path / "meter.json").write_text(json.dumps({"name": "meter", "points": [POINT]}))
    (tmp_path / "meter.toml").write_text('name = "meter"\npoints = [{name="w", address=0, type="int16", unit="W", writable=false}]\n')
    with pytest.raises(ProfileError, match="'meter' is defined more than once"):
        load_profile("meter", search_dirs=[tmp_path])


@pytest.mark.parametrize(
    ("filename", "text", "problem"),
    [
        ("meter.json", json.dumps({"name": "other", "points": [POINT]}), "declares name 'other', expected 'meter'"),
        ("meter.toml", "name = [", "not valid TOML"),
        ("Meter.json", "{}", "file names must match"),
    ],
)
def test_broken_user_files_name_file_and_problem(tmp_path, filename, text, problem):
    (tmp_path / filename).write_text(text)
    with pytest.raises(ProfileError, match=problem) as info:
        list_profiles(search_dirs=[tmp_path])
    assert str(tmp_path) in str(info.value)


def test_missing_search_dir_is_an_error(tmp_path):
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile("controllable_load", search_dirs=[tmp_path / "absent"])


def write(tmp_path, document) -> str:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    return path


INVALID_ROLES = [
    ({"m": {"point": "nope"}}, "role 'm': names no point 'nope'"),
    ({"m": {"point": "w", "multiplier": 0}}, "role 'm': multiplier must be"),
    ({"m": {"point": "w", "factor": 2}}, "role 'm': unknown fields ['factor']"),
    ({"m": 5}, "role 'm': must be a point name or an object"),
    ({"w": "w"}, "role 'w': duplicate role 'w'"),
    ({"m": {"point": "w", "minimum": 5, "maximum": 1}}, "role 'm': minimum 5 is greater than maximum 1"),
]


@pytest.mark.parametrize(("roles", "problem"), INVALID_ROLES)
def test_invalid_role_bindings_name_file_role_and_problem(tmp_path, roles, problem):
    path = write(tmp_path, {"name": "broken", "points": [POINT], "roles": roles})
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(path) in str(info.value) and problem in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("points", "problem"),
    [
        ([{**POINT, "scale_factor": "w_sf"}], "point 'w': scale_factor 'w_sf' must name a sunssf point"),
        ([{**POINT, "type": "string"}], "point 'w': a string needs 'size'"),
        ([{**POINT, "type": "enum16", "symbols": {"ON": "1"}}], "symbol 'ON' must be an int"),
    ],
)
def test_invalid_new_point_fields_name_file_point_and_problem(tmp_path, points, problem):
    path = write(tmp_path, {"name": "broken", "points": points})
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(path) in str(info.value) and problem in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"sunspec": {"models": [103]}, "roles": {"m": "103.Watts"}}, "role 'm': SunSpec model 103 (inverter_three_phase) has no point 'Watts'"),
        ({"sunspec": {"models": [103]}, "roles": {"m": "123.Conn"}}, "model 123 is not among the profile's models [103]"),
        ({"sunspec": {"models": [103]}, "roles": {"m": "W"}}, "not a SunSpec point reference"),
        ({"sunspec": {"models": [99999]}, "roles": {"m": "99999.W"}}, "pysunspec2 has no definition"),
        ({"sunspec": {"models": [103]}, "roles": {}}, "needs at least one role"),
        ({"sunspec": {"models": [103]}, "points": [POINT], "roles": {"m": "103.W"}}, "drop 'points'"),
        ({"sunspec": {"models": []}, "roles": {"m": "103.W"}}, "'models' must be a non-empty list"),
    ],
)
def test_invalid_sunspec_profiles_are_rejected(tmp_path, document, problem):
    path = write(tmp_path, {"name": "broken", **document})
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(path) in str(info.value) and problem in str(info.value), str(info.value)


def test_sunspec_profile_has_roles_but_no_fixed_addresses():
    profile = load_profile("sunspec_der")
    assert profile.is_sunspec and profile.sunspec.models == (1, 103, 120, 121, 123)
    assert profile.has_role("curtail_enable") and profile.has_role("measured_kw")
    with pytest.raises(ProfileError, match="discovered per device"):
        profile.point("measured_kw")


def test_feeder_controller_shares_the_curtailment_map_of_controllable_load():
    load, feeder = load_profile("controllable_load"), load_profile("feeder_controller")
    for role in load.roles:
        assert feeder.point(role) == load.point(role)
    assert feeder.point("breaker_closed").symbols == (("OPEN", 0), ("CLOSED", 1))
    assert feeder.point("energy_kwh").word_order == "little"
    assert feeder.point("device_model").register_count == 8
