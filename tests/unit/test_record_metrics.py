"""Recording outcomes counts them in gridjobs_device_outcomes_total by state and code,
each outcome once, however many a chunk holds."""

from __future__ import annotations

from gridjobs.metrics import DEVICE_OUTCOMES
from gridjobs.records import Outcome
from gridjobs.states import OutcomeState
from gridjobs.testing import local_ports, new_operation, run_context


def _count(state: str, code: str) -> float:
    return DEVICE_OUTCOMES.labels(state, code)._value.get()


async def test_each_recorded_outcome_is_counted_once_under_its_state_and_code():
    labels = [("succeeded", ""), ("failed", "device_timeout"), ("failed", "bad_response")]
    before = {label: _count(*label) for label in labels}
    async with local_ports([]) as ports:
        ctx = run_context(new_operation("load_shed", {}), ports)
        await ctx.record([Outcome(f"d{i}", OutcomeState.SUCCEEDED, "curtailed", i) for i in range(5)]
                         + [Outcome("t", OutcomeState.FAILED, "curtail", 5, code="device_timeout"),
                            Outcome("u", OutcomeState.FAILED, "curtail", 6, code="device_timeout"),
                            Outcome("b", OutcomeState.FAILED, "curtail", 7, code="bad_response")])
    assert {label: _count(*label) - before[label] for label in labels} == {
        ("succeeded", ""): 5, ("failed", "device_timeout"): 2, ("failed", "bad_response"): 1}
