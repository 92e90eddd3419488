"""Rollout planning and the abort decision are pure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gridjobs.rollout.params import FirmwareRolloutParams
from gridjobs.rollout.planner import plan_waves
from gridjobs.run.gating import Tally, batches, should_abort

IDS = [f"rtu-{i:03d}" for i in range(50)]


def test_default_waves_with_a_canary_of_one():
    waves = plan_waves(IDS, ["1%", "10%", "50%", "100%"])
    assert [len(w) for w in waves] == [1, 4, 20, 25]
    assert [d for w in waves for d in w] == IDS


def test_counts_and_waves_short_of_the_fleet():
    assert [len(w) for w in plan_waves(IDS, [2, 10])] == [2, 8, 40]
    assert [len(w) for w in plan_waves(IDS[:3], ["1%", "10%", "100%"])] == [1, 2]
    assert plan_waves([], ["100%"]) == []


def test_abort_needs_min_executed_and_a_share_over_the_threshold():
    assert not should_abort(Tally(executed=2, failed=2), threshold_pct=20, min_executed=5)
    assert should_abort(Tally(executed=5, failed=2), threshold_pct=20, min_executed=5)
    assert not should_abort(Tally(executed=10, failed=2), threshold_pct=20, min_executed=5)


def test_batches():
    assert batches(IDS[:5], 2) == [tuple(IDS[0:2]), tuple(IDS[2:4]), (IDS[4],)]


def test_params_validate_waves():
    base = {"firmware_id": "00000000-0000-4000-8000-000000000001", "scope": {"feeders": ["F1"]}}
    assert FirmwareRolloutParams.model_validate(base).waves == ["1%", "10%", "50%", "100%"]
    for bad in (["50%", "10%"], ["abc"], ["0%"], [0], ["150%"]):
        with pytest.raises(ValidationError):
            FirmwareRolloutParams.model_validate({**base, "waves": bad})
