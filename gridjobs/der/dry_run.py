"""Dry run for DER curtailment: the limit each inverter would get, no device I/O.

Without reading the inverters, output is the last reading the shards saw, or
the rated kW; WMax is taken as the rated kW.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gridjobs.curtailment.stages import restore_stages
from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.planner import Inverter, plan_limit
from gridjobs.der.strategy import is_der
from gridjobs.profiles import ProfileCatalog
from gridjobs.scope import resolve_scope
from gridjobs.store.devices import last_readings


async def dry_run(pool: asyncpg.Pool, params: DerCurtailmentParams,
                  profiles: ProfileCatalog) -> dict[str, Any]:
    devices = [d for d in await resolve_scope(pool, params.scope) if is_der(d, profiles)]
    readings = await last_readings(pool, [d.id for d in devices])
    inverters = [Inverter(d.id, readings.get(d.id, d.rated_kw), d.rated_kw, d.protected) for d in devices]
    total = sum(i.output_kw for i in inverters)
    reduce = params.reduce_kw if params.reduce_kw is not None else max(0.0, total - (params.limit_kw or 0))
    plan = plan_limit(inverters, reduce_kw=reduce)
    chosen = [x.device_id for x in plan.limits]
    return {
        "initial_output_kw": round(total, 3),
        "target_kw": round(reduce, 3),
        "limit_pct": plan.pct,
        "expected_kw": round(plan.expected_kw, 3),
        "shortfall_kw": round(plan.shortfall_kw, 3),
        "devices": [{"device_id": x.device_id, "limit_pct": x.pct,
                     "expected_kw": round(x.expected_kw, 3),
                     "basis": "last_reading" if x.device_id in readings else "rated_kw"}
                    for x in plan.limits],
        "restore_stages": [list(s) for s in restore_stages(chosen[::-1], params.restore.stages)]
        if chosen else [],
        "hold_s": params.hold_s,
    }
