"""Dry run of any curtailment: the strategy's own plan, with no device I/O and no row.

The run and the dry run call the same `Strategy.plan`. Without reading the
devices, a device's measured kW is its last reading known to the shards
(device_state), or its rated kW when it was never read; a generation limit
(`max_kw`) is taken as the rated kW.
"""

from __future__ import annotations

from typing import Any, Mapping

import asyncpg

from adapters import Role
from gridjobs.curtailment.params import CurtailmentParams
from gridjobs.curtailment.stages import restore_stages
from gridjobs.curtailment.strategy import Readings, Strategy
from gridjobs.records import Device
from gridjobs.scope import resolve_scope
from gridjobs.store.devices import last_readings

MEASURED = Role.MEASURED_KW


def assumed_readings(devices: list[Device], last_kw: Mapping[str, float],
                     roles: tuple[str, ...]) -> Readings:
    return {d.id: {role: last_kw.get(d.id, d.rated_kw) if role == MEASURED else d.rated_kw
                   for role in roles} for d in devices}


async def dry_run(pool: asyncpg.Pool, params: CurtailmentParams, strategy: Strategy) -> dict[str, Any]:
    in_scope = await resolve_scope(pool, params.scope)
    surveyed = strategy.surveyed(in_scope)
    last_kw = await last_readings(pool, [d.id for d in surveyed])
    readings = assumed_readings(surveyed, last_kw, strategy.survey_roles)
    target = strategy.target_kw(readings)
    devices = {d.id: d for d in in_scope}
    commands = strategy.plan(devices, readings, target_kw=target, applied={}, unavailable=frozenset())
    expected = sum(c.expected_kw for c in commands)
    chosen = [c.device_id for c in commands]
    return {
        **strategy.result(readings), **strategy.summary(commands),
        "target_kw": round(target, 3),
        "expected_kw": round(expected, 3),
        "shortfall_kw": round(max(0.0, target - expected), 3),
        "devices": [{"device_id": c.device_id, "setpoint_pct": c.setpoint_pct,
                     "shed_priority": devices[c.device_id].shed_priority,
                     "expected_kw": round(c.expected_kw, 3),
                     "basis": "last_reading" if c.device_id in last_kw else "rated_kw"}
                    for c in commands],
        "protected_excluded": sum(1 for d in in_scope if d.protected),
        "restore_stages": [list(s) for s in restore_stages(chosen[::-1], params.restore.stages)]
        if chosen else [],
        "hold_s": params.hold_s,
    }
