"""Load shedding as a curtailment strategy: disconnect loads until the target is met."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from gridjobs.curtailment.engine import CurtailmentRun
from gridjobs.curtailment.strategy import Command, Readings, verify_ceiling
from gridjobs.dispatch.context import Finish, RunContext
from gridjobs.load_shed.params import LoadShedParams
from gridjobs.load_shed.planner import Candidate, plan_shed
from gridjobs.records import Device

SHED_SETPOINT_PCT = 0


class LoadShedStrategy:
    survey_roles = ("measured_kw",)

    def __init__(self, params: LoadShedParams) -> None:
        self.params = params

    def surveyed(self, devices: Iterable[Device]) -> list[Device]:
        return [d for d in devices if not d.protected]

    def target_kw(self, readings: Readings) -> float:
        return self.params.target_kw

    def plan(self, devices: Mapping[str, Device], readings: Readings, *,
             needed_kw: float, exclude: frozenset[str]) -> list[Command]:
        candidates = [
            Candidate(d.id, d.shed_priority, d.protected, readings[d.id]["measured_kw"])
            for d in devices.values() if d.id in readings
        ]
        plan = plan_shed(candidates, target_kw=needed_kw, exclude=exclude)
        return [Command(c.device_id, SHED_SETPOINT_PCT, c.measured_kw,
                        verify_ceiling(0.0, c.measured_kw)) for c in plan.chosen]

    def result(self, readings: Readings) -> dict[str, Any]:
        return {}


async def run_load_shed(ctx: RunContext) -> Finish:
    params = LoadShedParams.model_validate(ctx.operation.params)
    return await CurtailmentRun(ctx, params, LoadShedStrategy(params)).run()
