"""The CLI sends what the user gave and nothing else: the server's models hold the defaults."""

from __future__ import annotations

from gridjobs.cli import build_parser, rollout_body, shed_body


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
