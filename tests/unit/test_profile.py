"""Profiles: the shipped one loads as documented; broken ones are rejected with useful messages."""

from __future__ import annotations

import json
import pickle

import pytest

from adapters import Profile, ProfileError, UnknownRoleError, load_profile, load_profile_file

GOOD_POINT = {"name": "a", "address": 0, "type": "uint16", "unit": "%", "writable": True}


def test_shipped_controllable_load_profile():
    profile = load_profile("controllable_load")
    assert isinstance(profile, Profile) and profile.name == "controllable_load"
    assert set(profile.roles) >= {
        "rated_kw", "measured_kw", "curtail_setpoint_pct", "revert_timeout_s", "revert_remaining_s",
    }
    rated, measured = profile.point("rated_kw"), profile.point("measured_kw")
    assert (rated.type, rated.scale, rated.writable) == ("uint32", 0.001, False)
    assert (measured.type, measured.scale, measured.writable) == ("int32", 0.001, False)
    setpoint, timer = profile.point("curtail_setpoint_pct"), profile.point("revert_timeout_s")
    assert setpoint.type == timer.type == "uint16" and setpoint.writable and timer.writable
    assert (setpoint.minimum, setpoint.maximum) == (0, 100)
    assert timer.address == setpoint.address + 1, "one FC16 write must cover setpoint and timer"
    assert not profile.point("revert_remaining_s").writable


def test_profiles_pickle_for_other_processes():
    profile = load_profile("controllable_load")
    copy = pickle.loads(pickle.dumps(profile))
    assert copy == profile and copy.point("measured_kw") == profile.point("measured_kw")


def test_unknown_role_is_a_key_error_naming_profile_and_role():
    profile = load_profile("controllable_load")
    with pytest.raises(UnknownRoleError) as info:
        profile.point("frequency_hz")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ProfileError)
    assert str(info.value) == "profile 'controllable_load' has no point with role 'frequency_hz'"


@pytest.mark.parametrize("name", ["no_such_profile", "../controllable_load", "Controllable"])
def test_unknown_or_unsafe_profile_names_are_rejected(name):
    with pytest.raises(ProfileError, match="profile name|no shipped profile"):
        load_profile(name)


def write(tmp_path, document) -> str:
    path = tmp_path / "broken.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def profile_with(*points) -> dict:
    return {"name": "broken", "points": list(points)}


INVALID = [
    ("unknown type", [{**GOOD_POINT, "type": "int64"}], "point 'a'", "unknown type 'int64'"),
    ("bad word order", [{**GOOD_POINT, "type": "uint32", "word_order": "middle"}], "point 'a'", "word_order"),
    ("zero scale", [{**GOOD_POINT, "scale": 0}], "point 'a'", "scale must be"),
    ("limits swapped", [{**GOOD_POINT, "minimum": 5, "maximum": 1}], "point 'a'", "greater than maximum"),
    ("address too high", [{**GOOD_POINT, "type": "uint32", "address": 65535}], "point 'a'", "does not fit"),
    ("missing field", [{k: v for k, v in GOOD_POINT.items() if k != "type"}], "point 'a'", "missing fields ['type']"),
    ("unknown field", [{**GOOD_POINT, "writeable": True}], "point 'a'", "unknown fields ['writeable']"),
    ("wrong field type", [{**GOOD_POINT, "writable": "yes"}], "point 'a'", "'writable' must be bool"),
    ("bool as number", [{**GOOD_POINT, "address": True}], "point 'a'", "'address' must be int"),
    ("nameless point", [{"address": 0}], "point #0", "missing fields"),
    (
        "duplicate name",
        [GOOD_POINT, {**GOOD_POINT, "address": 1, "role": "b"}],
        "point 'a'",
        "duplicate name 'a'",
    ),
    (
        "duplicate role",
        [GOOD_POINT, {**GOOD_POINT, "name": "b", "address": 1, "role": "a"}],
        "point 'b'",
        "duplicate role 'a'",
    ),
    (
        "overlap",
        [{**GOOD_POINT, "type": "uint32"}, {**GOOD_POINT, "name": "b", "address": 1}],
        "point 'b'",
        "registers 1..1 overlap point 'a' (registers 0..1)",
    ),
]


@pytest.mark.parametrize(("case", "points", "names", "problem"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_points_are_rejected_naming_file_point_and_problem(tmp_path, case, points, names, problem):
    path = write(tmp_path, profile_with(*points))
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    message = str(info.value)
    assert str(path) in message and names in message and problem in message, message


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not valid JSON"),
        ([], "top level must be an object"),
        ({"name": "x"}, "'points' must be a non-empty list"),
        ({"name": "x", "points": []}, "'points' must be a non-empty list"),
        ({"points": [GOOD_POINT]}, "'name' must be a non-empty string"),
        ({"name": "x", "points": [GOOD_POINT], "extra": 1}, "unknown top-level fields ['extra']"),
    ],
)
def test_invalid_documents_are_rejected_naming_file_and_problem(tmp_path, document, problem):
    path = write(tmp_path, document)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_role_defaults_to_name_and_optional_fields_default(tmp_path):
    path = write(tmp_path, profile_with(GOOD_POINT))
    point = load_profile_file(path).point("a")
    assert (point.role, point.word_order, point.scale, point.minimum, point.maximum) == ("a", "big", 1.0, None, None)


def test_missing_file_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="cannot read profile"):
        load_profile_file(tmp_path / "absent.json")
