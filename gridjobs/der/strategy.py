"""DER curtailment as a curtailment strategy: limit inverters pro rata."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from gridjobs.curtailment.engine import CurtailmentRun
from gridjobs.curtailment.strategy import Command, Readings, verify_ceiling
from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.planner import Inverter, plan_limit
from gridjobs.dispatch.context import Finish, RunContext
from gridjobs.profiles import DER_ROLES, supports
from gridjobs.records import Device


def is_der(device: Device) -> bool:
    return supports(device.profile, DER_ROLES)


class DerStrategy:
    survey_roles = ("measured_kw", "max_kw")

    def __init__(self, params: DerCurtailmentParams) -> None:
        self.params = params

    def surveyed(self, devices: Iterable[Device]) -> list[Device]:
        return [d for d in devices if is_der(d)]  # protected ones count toward the total

    def initial_output_kw(self, readings: Readings) -> float:
        return sum(r["measured_kw"] for r in readings.values())

    def target_kw(self, readings: Readings) -> float:
        if self.params.reduce_kw is not None:
            return self.params.reduce_kw
        return max(0.0, self.initial_output_kw(readings) - (self.params.limit_kw or 0.0))

    def plan(self, devices: Mapping[str, Device], readings: Readings, *,
             needed_kw: float, exclude: frozenset[str]) -> list[Command]:
        inverters = [
            Inverter(d.id, readings[d.id]["measured_kw"], readings[d.id]["max_kw"], d.protected)
            for d in devices.values() if d.id in readings and d.id not in exclude
        ]
        plan = plan_limit(inverters, reduce_kw=needed_kw)
        return [Command(x.device_id, x.pct, x.expected_kw,
                        verify_ceiling(x.expected_after_kw, readings[x.device_id]["measured_kw"]))
                for x in plan.limits]

    def result(self, readings: Readings) -> dict[str, Any]:
        extra = {"initial_output_kw": round(self.initial_output_kw(readings), 3)}
        if self.params.limit_kw is not None:
            extra["limit_kw"] = self.params.limit_kw
        return extra


async def run_der_curtailment(ctx: RunContext) -> Finish:
    params = DerCurtailmentParams.model_validate(ctx.operation.params)
    return await CurtailmentRun(ctx, params, DerStrategy(params)).run()
