"""The load-shed planner is pure: plain data in, a decision out."""

from __future__ import annotations

from hypothesis import given, strategies as st

from gridjobs.curtailment.stages import restore_stages
from gridjobs.load_shed.planner import Candidate, plan_shed, shed_order


def c(device_id: str, priority: int, kw: float, protected: bool = False) -> Candidate:
    return Candidate(device_id, priority, protected, kw)


def test_protected_devices_are_never_chosen():
    candidates = [c("p", 1, 500, protected=True), c("a", 2, 10), c("b", 3, 10)]
    plan = plan_shed(candidates, target_kw=1000)
    assert "p" not in plan.device_ids
    assert plan.device_ids == ("a", "b")


def test_priority_order_then_largest_first():
    candidates = [c("late-big", 2, 100), c("early-small", 1, 5), c("early-big", 1, 50),
                  c("early-mid", 1, 20)]
    plan = plan_shed(candidates, target_kw=60)
    assert plan.device_ids == ("early-big", "early-mid")
    assert plan.expected_kw == 70 and plan.shortfall_kw == 0


def test_shortfall_when_candidates_run_out():
    plan = plan_shed([c("a", 1, 10), c("b", 1, 15), c("p", 1, 99, protected=True)], target_kw=40)
    assert plan.device_ids == ("b", "a")
    assert plan.expected_kw == 25 and plan.shortfall_kw == 15


def test_already_shed_and_excluded_devices_count():
    candidates = [c("a", 1, 30), c("b", 1, 20), c("c", 1, 10)]
    plan = plan_shed(candidates, target_kw=50, already_kw=30, exclude=frozenset({"a"}))
    assert plan.device_ids == ("b",)
    assert plan_shed(candidates, target_kw=50, already_kw=50).device_ids == ()


def test_devices_drawing_nothing_are_not_candidates():
    assert shed_order([c("idle", 1, 0.0), c("a", 2, 1.0)]) == [c("a", 2, 1.0)]


def test_planner_does_not_change_its_input():
    candidates = [c("b", 2, 1), c("a", 1, 2)]
    before = list(candidates)
    plan_shed(candidates, target_kw=2)
    assert candidates == before


@given(st.lists(st.tuples(st.integers(1, 4), st.floats(0, 100), st.booleans()), max_size=40),
       st.floats(0.1, 2000))
def test_plan_properties(rows, target):
    candidates = [c(f"d{i}", p, kw, prot) for i, (p, kw, prot) in enumerate(rows)]
    plan = plan_shed(candidates, target_kw=target)
    assert not any(x.protected for x in plan.chosen)
    keys = [(x.shed_priority, -x.measured_kw) for x in plan.chosen]
    assert keys == sorted(keys)
    assert abs(plan.expected_kw - sum(x.measured_kw for x in plan.chosen)) < 1e-6
    available = sum(x.measured_kw for x in candidates if not x.protected and x.measured_kw > 0)
    assert abs(plan.shortfall_kw - max(0.0, target - plan.expected_kw)) < 1e-6
    if plan.shortfall_kw > 0:
        assert abs(plan.expected_kw - available) < 1e-6
    if plan.chosen:  # minimal: without the last device the target would not be met
        assert plan.expected_kw - plan.chosen[-1].measured_kw < target


def test_restore_stages_split_evenly_and_keep_order():
    ids = [f"d{i}" for i in range(7)]
    assert restore_stages(ids, 3) == [("d0", "d1", "d2"), ("d3", "d4"), ("d5", "d6")]
    assert restore_stages(ids[:2], 5) == [("d0",), ("d1",)]
    assert restore_stages(ids, 1) == [tuple(ids)]
    assert restore_stages([], 3) == []
