"""Dry run for a key rotation: which devices, in which batches; nothing touched."""

from __future__ import annotations

from typing import Any

import asyncpg

from gridjobs.key_rotation.params import KeyRotationParams
from gridjobs.profiles import ProfileCatalog
from gridjobs.rollout.planner import batches
from gridjobs.scope import resolve_scope


async def dry_run(pool: asyncpg.Pool, params: KeyRotationParams,
                  profiles: ProfileCatalog) -> dict[str, Any]:
    targets = sorted(d.id for d in await resolve_scope(pool, params.scope)
                     if profiles.requires_auth(d.profile))
    return {"devices": len(targets),
            "batches": [list(b) for b in batches(targets, params.max_parallel)],
            "failure_threshold_pct": params.failure_threshold_pct}
