"""Profiles that declare authenticated writes: parsing, validation, the shipped secure_load map."""

from __future__ import annotations

import json

import pytest

from adapters import ProfileError, load_profile, parse_profile

LOAD_ROLES = ["curtail_setpoint_pct", "revert_timeout_s", "revert_remaining_s", "rated_kw", "measured_kw"]


def test_secure_load_keeps_the_load_map_and_adds_the_auth_registers():
    secure, load = load_profile("secure_load"), load_profile("controllable_load")
    assert [secure.point(r) for r in LOAD_ROLES] == [load.point(r) for r in LOAD_ROLES]
    assert secure.read_gap == load.read_gap and secure.requires_auth and not load.requires_auth
    addresses = {role: (secure.point(role).address, secure.point(role).register_count) for role in (
        "auth_challenge", "auth_active_version", "auth_pending_version", "auth_previous_version",
        "auth_pending_state", "auth_key_version", "auth_mac", "auth_cmd", "auth_cmd_version", "auth_cmd_arg")}
    assert addresses == {"auth_challenge": (50, 2), "auth_active_version": (52, 1), "auth_pending_version": (53, 1),
                         "auth_previous_version": (54, 1), "auth_pending_state": (55, 1),
                         "auth_key_version": (56, 1), "auth_mac": (57, 16), "auth_cmd": (80, 1),
                         "auth_cmd_version": (81, 1), "auth_cmd_arg": (82, 20)}
    assert secure.critical_roles == {"curtail_setpoint_pct", "revert_timeout_s", "auth_cmd", "auth_cmd_version",
                                     "auth_cmd_arg"}


def _document(**auth) -> dict:
    return {
        "name": "locked",
        "points": [
            {"name": "limit", "address": 0, "type": "uint16", "writable": True},
            {"name": "status", "address": 1, "type": "uint16", "writable": False},
            {"name": "auth_challenge", "address": 10, "type": "uint32", "writable": False},
            {"name": "auth_key_version", "address": 12, "type": "uint16", "writable": True},
            {"name": "auth_mac", "address": 13, "type": "bytes", "size": 16, "writable": True},
        ],
        "auth": auth,
    }


def test_a_toml_profile_may_declare_critical_roles():
    text = """
name = "gate"
points = [
  {name = "limit", address = 0, type = "uint16", writable = true},
  {name = "auth_challenge", address = 10, type = "uint32", writable = false},
  {name = "auth_key_version", address = 12, type = "uint16", writable = true},
  {name = "auth_mac", address = 13, type = "bytes", size = 16, writable = true},
]
[auth]
critical_roles = ["limit"]
"""
    profile = parse_profile(text, source="gate.toml", format="toml")
    assert profile.requires_auth and profile.critical_roles == {"limit"}


@pytest.mark.parametrize(("auth", "problem"), [
    ({"critical_roles": ["nope"]}, "has no role 'nope'"),
    ({"critical_roles": ["status"]}, "must be writable"),
    ({"critical_roles": []}, "non-empty list"),
    ({"critical_roles": ["limit", "limit"]}, "twice"),
    ({"critical_roles": ["auth_mac"]}, "cannot be critical"),
    ({"critical_roles": ["limit"], "keys": 1}, "unknown fields"),
])
def test_bad_auth_declarations_name_the_problem(auth, problem):
    with pytest.raises(ProfileError, match=problem):
        parse_profile(json.dumps(_document(**auth)), source="locked.json")


def test_the_deposit_must_be_one_write():
    document = _document(critical_roles=["limit"])
    document["points"][4]["address"] = 14
    with pytest.raises(ProfileError, match="contiguous"):
        parse_profile(json.dumps(document), source="locked.json")
