"""DER curtailment as a curtailment strategy: limit inverters pro rata."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from adapters import Role
from gridjobs.curtailment.engine import CurtailmentRun
from gridjobs.curtailment.strategy import Applied, Command, Readings, verify_ceiling
from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.planner import Inverter, plan_limit
from gridjobs.run.context import Finish, RunContext
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device

MEASURED, MAX_KW = Role.MEASURED_KW, Role.MAX_KW


class DerStrategy:
    survey_roles = (MEASURED, MAX_KW)

    def __init__(self, params: DerCurtailmentParams, profiles: ProfileCatalog) -> None:
        self.params = params
        self.profiles = profiles

    def surveyed(self, devices: Iterable[Device]) -> list[Device]:
        # protected inverters are read too: they count toward the total output
        return [d for d in devices if self.profiles.is_der(d.profile)]

    def initial_output_kw(self, readings: Readings) -> float:
        return sum(r[MEASURED] for r in readings.values())

    def target_kw(self, readings: Readings) -> float:
        if self.params.reduce_kw is not None:
            return self.params.reduce_kw
        return max(0.0, self.initial_output_kw(readings) - (self.params.limit_kw or 0.0))

    def plan(self, devices: Mapping[str, Device], readings: Readings, *, target_kw: float,
             applied: Mapping[str, Applied], unavailable: frozenset[str]) -> list[Command]:
        """Re-plan one uniform limit over every healthy inverter, and command those
        whose limit it lowers: when one fails, the others go deeper, pro rata."""
        healthy = [
            Inverter(d.id, readings[d.id][MEASURED], readings[d.id][MAX_KW], d.protected)
            for d in devices.values() if d.id in readings and d.id not in unavailable
        ]
        # What the applied limits took off less than expected is asked of the new plan.
        deficit = sum(max(0.0, a.command.expected_kw - a.achieved_kw) for a in applied.values())
        plan = plan_limit(healthy, reduce_kw=target_kw + deficit)
        return [
            Command(x.device_id, x.pct, x.expected_kw,
                    verify_ceiling(x.expected_after_kw, readings[x.device_id][MEASURED]))
            for x in plan.limits
            if x.device_id not in applied or applied[x.device_id].command.setpoint_pct > x.pct
        ]

    def result(self, readings: Readings) -> dict[str, Any]:
        extra = {"initial_output_kw": round(self.initial_output_kw(readings), 3)}
        if self.params.limit_kw is not None:
            extra["limit_kw"] = self.params.limit_kw
        return extra

    def summary(self, commands: Sequence[Command]) -> dict[str, Any]:
        """The one limit every commanded inverter gets (None: none needs limiting)."""
        return {"limit_pct": commands[0].setpoint_pct if commands else None}


async def run_der_curtailment(ctx: RunContext) -> Finish:
    params = DerCurtailmentParams.model_validate(ctx.operation.params)
    return await CurtailmentRun(ctx, params, DerStrategy(params, ctx.profiles)).run()
