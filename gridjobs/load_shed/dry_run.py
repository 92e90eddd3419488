"""Dry run: the plan a load shed would follow, with no device I/O and no row.

Without reading devices, each device's expected kW is its last reading known
to the shards (device_state), or its rated kW when it was never read.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from gridjobs.load_shed.params import LoadShedParams
from gridjobs.curtailment.stages import restore_stages
from gridjobs.load_shed.planner import Candidate, plan_shed
from gridjobs.profiles import ProfileCatalog
from gridjobs.scope import resolve_scope
from gridjobs.store.devices import last_readings


async def dry_run(pool: asyncpg.Pool, params: LoadShedParams,
                  profiles: ProfileCatalog) -> dict[str, Any]:
    devices = [d for d in await resolve_scope(pool, params.scope) if profiles.is_load(d.profile)]
    readings = await last_readings(pool, [d.id for d in devices])
    candidates = [
        Candidate(d.id, d.shed_priority, d.protected, readings.get(d.id, d.rated_kw))
        for d in devices
    ]
    plan = plan_shed(candidates, target_kw=params.target_kw)
    chosen = list(plan.device_ids)
    return {
        "target_kw": params.target_kw,
        "expected_kw": round(plan.expected_kw, 3),
        "shortfall_kw": round(plan.shortfall_kw, 3),
        "devices": [
            {
                "device_id": c.device_id,
                "shed_priority": c.shed_priority,
                "expected_kw": round(c.measured_kw, 3),
                "basis": "last_reading" if c.device_id in readings else "rated_kw",
            }
            for c in plan.chosen
        ],
        "protected_excluded": sum(1 for d in devices if d.protected),
        "restore_stages": [list(s) for s in restore_stages(chosen[::-1], params.restore.stages)]
        if chosen else [],
        "hold_s": params.hold_s,
    }
