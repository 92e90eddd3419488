"""The CLI sends what the user gave and nothing else: the server's models hold the defaults."""

from __future__ import annotations

import pytest

from gridjobs.cli import build_parser, der_body, rollout_body, rotation_body, setting_flags, shed_body
from gridjobs.config import Settings, flag


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_a_minimal_shed_sends_no_defaults_of_its_own():
    body = shed_body(parse("submit", "load-shed", "--target-kw", "50", "--feeders", "F1", "--hold-s", "10"))
    assert body == {"kind": "load_shed",
                    "params": {"target_kw": 50.0, "scope": {"feeders": ["F1"]}, "hold_s": 10.0}}


def test_given_options_are_sent():
    body = shed_body(parse("submit", "load-shed", "--target-kw", "5", "--device-ids", "a,b",
                           "--hold-until-cancelled", "--stages", "3", "--priority", "9",
                           "--revert-timeout-s", "30"))
    assert body["priority"] == 9 and body["params"]["hold_s"] is None
    assert body["params"]["restore"] == {"stages": 3} and body["params"]["revert_timeout_s"] == 30


def test_a_minimal_rollout_sends_no_defaults_of_its_own():
    body = rollout_body(parse("submit", "rollout", "--firmware-id", "f", "--feeders", "F1"))
    assert body == {"kind": "firmware_rollout", "params": {"firmware_id": "f", "scope": {"feeders": ["F1"]}}}
    waves = rollout_body(parse("submit", "rollout", "--firmware-id", "f", "--feeders", "F1",
                               "--waves", "1,10%,100%", "--approval", "manual"))["params"]
    assert waves["waves"] == [1, "10%", "100%"] and waves["approval"] == "manual"


def test_der_and_key_rotation_send_only_what_was_given():
    der = der_body(parse("submit", "der-curtailment", "--limit-kw", "100", "--feeders", "F1", "--hold-s", "60"))
    assert der == {"kind": "der_curtailment",
                   "params": {"limit_kw": 100.0, "scope": {"feeders": ["F1"]}, "hold_s": 60.0}}
    shed = der_body(parse("submit", "der-curtailment", "--reduce-kw", "5", "--device-ids", "a",
                          "--hold-until-cancelled", "--verify-settle-s", "2", "--stages", "2"))["params"]
    assert shed["reduce_kw"] == 5.0 and "limit_kw" not in shed and shed["hold_s"] is None
    assert shed["verify_settle_s"] == 2.0 and shed["restore"] == {"stages": 2}
    rotation = rotation_body(parse("submit", "key-rotation", "--feeders", "F1,F2"))
    assert rotation == {"kind": "key_rotation", "params": {"scope": {"feeders": ["F1", "F2"]}}}
    manual = rotation_body(parse("submit", "key-rotation", "--device-ids", "a", "--approval", "manual",
                                 "--max-parallel", "3", "--priority", "7"))
    assert manual["params"]["approval"] == "manual" and manual["params"]["max_parallel"] == 3
    assert manual["priority"] == 7


def test_der_curtailment_needs_exactly_one_of_limit_or_reduce():
    for argv in ([], ["--limit-kw", "1", "--reduce-kw", "1"]):
        with pytest.raises(SystemExit) as exit_:
            parse("submit", "der-curtailment", "--feeders", "F1", "--hold-s", "1", *argv)
        assert exit_.value.code == 2


def test_every_setting_has_a_flag_on_serve():
    help_text = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    assert all(flag(name) in help_text for name in Settings.model_fields)
    args = parse("serve", "--lease-s", "4", "--port", "9000", "--log-level", "debug")
    assert setting_flags(args) == {"lease_s": "4", "port": 9000, "log_level": "debug"}
