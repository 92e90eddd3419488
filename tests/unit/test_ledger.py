"""The engine's per-device ledger, rebuilt from recorded outcomes on resume."""

from __future__ import annotations

from gridjobs.curtailment.ledger import CurtailmentLedger as Ledger
from gridjobs.records import Outcome


def outcome(device_id, state, step, seq, **data):
    return Outcome(device_id, state, step, seq, attempts=1, data=data)


def test_resume_finds_unacknowledged_commands_only():
    ledger = Ledger([
        outcome("a", "running", "curtail", 0, setpoint_pct=0),
        outcome("b", "failed", "curtail", 1),
        outcome("c", "succeeded", "curtailed", 2, reduction_kw=5.0),
    ])
    assert ledger.ids("curtail", state="running") == ["a"]
    assert ledger.ids("curtail") == ["a", "b"]
    assert ledger.reduction_kw() == 5.0


def test_set_appends_with_next_seq_and_returns_the_write():
    ledger = Ledger([outcome("a", "succeeded", "curtailed", 0)])
    write = ledger.set("z", state="running", step="curtail", attempts=1)
    assert (write.device_id, write.seq, write.state) == ("z", 1, "running")
    assert ledger.attempts("z") == 1 and ledger.attempts("nope") == 0
    ledger.set("z", state="failed", code="device_timeout")
    assert ledger.get("z").step == "curtail" and ledger.get("z").seq == 1
    assert ledger.count(state="failed", steps=("curtail",)) == 1


def test_retry_decision_is_pure_and_bounded():
    from gridjobs.run.retry import RetryRule

    rule = RetryRule()
    assert rule.should_retry("connection_failed", 1) and rule.should_retry("device_timeout", 1)
    assert rule.should_retry("shard_unavailable", 1)
    assert not rule.should_retry("device_timeout", 2)
    assert not rule.should_retry("modbus_exception", 1) and not rule.should_retry("verify_mismatch", 1)
    assert not rule.should_retry(None, 1)
    assert RetryRule(max_attempts=4).should_retry("device_timeout", 3)
