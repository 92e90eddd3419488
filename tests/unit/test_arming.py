"""Arming: how each profile arms its revert timer before the setpoint acts, and which profiles are refused."""

from __future__ import annotations

import json

import pytest

from adapters import Arming, ProfileError, load_profile, parse_profile
from adapters.sunspec_layout import resolve

SETPOINT = {"name": "curtail_setpoint_pct", "type": "uint16", "unit": "%", "writable": True, "maximum": 100}
TIMER = {"name": "revert_timeout_s", "type": "uint16", "unit": "s", "writable": True}
ENABLE = {"name": "curtail_enable", "type": "uint16", "writable": True}
MEASURED = {"name": "measured_kw", "address": 20, "type": "int32", "scale": 0.001, "writable": False}


def profile(*points: tuple[dict, int], **top) -> str:
    located = [{**point, "address": address} for point, address in points]
    return json.dumps({"name": "device", "points": [*located, MEASURED], **top})


@pytest.mark.parametrize(("name", "arming"), [
    ("controllable_load", Arming.ATOMIC), ("feeder_controller", Arming.ATOMIC), ("rtu", Arming.ATOMIC),
    ("secure_load", Arming.ATOMIC), ("sunspec_der", Arming.GATED),
])
def test_shipped_profiles(name, arming):
    assert load_profile(name).arming is arming


@pytest.mark.parametrize(("points", "arming"), [
    (((SETPOINT, 0), (TIMER, 1)), Arming.ATOMIC),
    (((TIMER, 4), (SETPOINT, 5)), Arming.ATOMIC),  # below the setpoint, still one FC16
    (((SETPOINT, 0), (TIMER, 10)), Arming.TIMER_FIRST),  # above and apart: written first, separately
    (((SETPOINT, 0), (ENABLE, 1), (TIMER, 2)), Arming.GATED),
    (((SETPOINT, 0), (TIMER, 1), (ENABLE, 2)), Arming.ATOMIC),  # gated too, but one FC16 arms both anyway
])
def test_arming_follows_the_layout(points, arming):
    assert parse_profile(profile(*points), source="device.json").arming is arming


def test_a_profile_that_cannot_arm_a_timer_is_refused_unless_it_says_so():
    for points in (((SETPOINT, 0),), ((SETPOINT, 0), (ENABLE, 1))):
        with pytest.raises(ProfileError, match="device.json: role 'curtail_setpoint_pct' has no revert timer"):
            parse_profile(profile(*points), source="device.json")
        assert parse_profile(profile(*points, allow_unarmed=True), source="device.json").arming is Arming.UNARMED


@pytest.mark.parametrize(("text", "problem"), [
    (profile((SETPOINT, 0), (TIMER, 1), allow_unarmed=True), "allow_unarmed is only for .* this one is atomic"),
    (profile((SETPOINT, 0), ({**TIMER, "writable": False}, 1)), "role 'revert_timeout_s' must be writable"),
    (profile((SETPOINT, 0), (TIMER, 1), allow_unarmed="yes"), "allow_unarmed must be true or false"),
])
def test_arming_mistakes_are_refused(text, problem):
    with pytest.raises(ProfileError, match=problem):
        parse_profile(text, source="device.json")


def test_profiles_without_a_setpoint_are_not_curtailable():
    assert parse_profile(json.dumps({"name": "meter", "points": [MEASURED]}), source="m.json").arming is Arming.NONE


def test_a_resolved_sunspec_layout_keeps_the_arming():
    sunspec = load_profile("sunspec_der")
    models = {1: 40002, 103: 40070, 120: 40122, 121: 40150, 123: 40182}
    assert resolve(sunspec, models=models).arming is sunspec.arming is Arming.GATED
