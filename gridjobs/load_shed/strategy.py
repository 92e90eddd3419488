"""Load shedding as a curtailment strategy: disconnect loads until the target is met."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from adapters import Role
from gridjobs.curtailment.engine import CurtailmentRun
from gridjobs.curtailment.strategy import Applied, Command, Readings, verify_ceiling
from gridjobs.run.context import Finish, RunContext
from gridjobs.load_shed.params import LoadShedParams
from gridjobs.load_shed.planner import Candidate, plan_shed
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device

SHED_SETPOINT_PCT = 0
MEASURED = Role.MEASURED_KW


class LoadShedStrategy:
    survey_roles = (MEASURED,)

    def __init__(self, params: LoadShedParams, profiles: ProfileCatalog) -> None:
        self.params = params
        self.profiles = profiles

    def surveyed(self, devices: Iterable[Device]) -> list[Device]:
        """Non-protected loads; generation in the scope is not shed."""
        return [d for d in devices if not d.protected and self.profiles.is_load(d.profile)]

    def target_kw(self, readings: Readings) -> float:
        return self.params.target_kw

    def plan(self, devices: Mapping[str, Device], readings: Readings, *, target_kw: float,
             applied: Mapping[str, Applied], unavailable: frozenset[str]) -> list[Command]:
        """Shed further devices (setpoint 0 is already as deep as a load goes)."""
        # Devices already shed or unavailable are left out before any candidate is made:
        # after a large shed's curtail that is all of them, and the re-plan costs nothing.
        candidates = [
            Candidate(d.id, d.shed_priority, d.protected, readings[d.id][MEASURED])
            for d in devices.values() if d.id in readings and d.id not in applied and d.id not in unavailable
        ]
        achieved = sum(a.achieved_kw for a in applied.values())
        plan = plan_shed(candidates, target_kw=target_kw, already_kw=achieved)
        return [Command(c.device_id, SHED_SETPOINT_PCT, c.measured_kw,
                        verify_ceiling(0.0, c.measured_kw)) for c in plan.chosen]

    def result(self, readings: Readings) -> dict[str, Any]:
        return {}

    def summary(self, commands: Sequence[Command]) -> dict[str, Any]:
        return {}


async def run_load_shed(ctx: RunContext) -> Finish:
    params = LoadShedParams.model_validate(ctx.operation.params)
    return await CurtailmentRun(ctx, params, LoadShedStrategy(params, ctx.profiles)).run()
