"""DER curtailment planning: one uniform limit, pro rata, pure."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.planner import Inverter, plan_limit


def test_uniform_limit_takes_off_the_reduction():
    inverters = [Inverter("a", 80, 100), Inverter("b", 40, 50), Inverter("c", 10, 100)]
    plan = plan_limit(inverters, reduce_kw=30)  # 130 kW now, at most 100 kW allowed
    assert plan.pct == 60  # 61 %: 61 + 30.5 + 10 > 100; 60 %: 60 + 30 + 10 = 100
    after = {x.device_id: x.expected_after_kw for x in plan.limits}
    assert set(after) == {"a", "b"}  # c already produces below 60 % of its WMax
    total_after = sum(after.values()) + 10
    assert total_after <= 100 + 1e-9 and plan.shortfall_kw == 0
    assert plan.expected_kw == pytest.approx(130 - total_after)


def test_protected_and_idle_inverters_are_left_alone():
    plan = plan_limit([Inverter("p", 50, 50, protected=True), Inverter("idle", 0, 50),
                       Inverter("a", 50, 50)], reduce_kw=20)
    assert [x.device_id for x in plan.limits] == ["a"]
    assert plan.limits[0].pct == 60


def test_shortfall_when_even_zero_is_not_enough():
    plan = plan_limit([Inverter("a", 10, 20)], reduce_kw=25)
    assert plan.pct == 0 and plan.expected_kw == 10 and plan.shortfall_kw == 15


def test_nothing_to_do():
    assert plan_limit([Inverter("a", 10, 20)], reduce_kw=0).limits == ()
    assert plan_limit([], reduce_kw=5).shortfall_kw == 5


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(1, 100)), min_size=1, max_size=30),
       st.floats(0.01, 3000))
def test_plan_meets_the_reduction_with_the_least_curtailment(rows, reduce_kw):
    inverters = [Inverter(f"i{n}", min(out, mx), mx) for n, (out, mx) in enumerate(rows)]
    plan = plan_limit(inverters, reduce_kw=reduce_kw)
    total = sum(i.output_kw for i in inverters)
    if plan.shortfall_kw == 0:
        assert plan.expected_kw >= reduce_kw - 1e-6
        if plan.pct is not None and plan.pct < 100:  # one percent more would not do
            more = sum(min(i.output_kw, i.max_kw * (plan.pct + 1) / 100) for i in inverters)
            assert more > total - reduce_kw - 1e-9
    assert all(0 <= x.pct <= 100 and x.expected_kw > 0 for x in plan.limits)


def test_params_need_exactly_one_of_limit_or_reduce():
    base = {"scope": {"feeders": ["F1"]}, "hold_s": 0}
    with pytest.raises(ValidationError, match="exactly one"):
        DerCurtailmentParams.model_validate(base)
    with pytest.raises(ValidationError, match="exactly one"):
        DerCurtailmentParams.model_validate({**base, "limit_kw": 1, "reduce_kw": 2})
    assert DerCurtailmentParams.model_validate({**base, "limit_kw": 0}).limit_kw == 0
