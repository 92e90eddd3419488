"""Dry run for a key rotation: which devices, in which batches; nothing touched."""

from __future__ import annotations

from typing import Any

import asyncpg

from gridjobs.key_rotation.params import KeyRotationParams
from gridjobs.key_rotation.runner import rotation_targets
from gridjobs.profiles import ProfileCatalog
from gridjobs.run.gating import batches
from gridjobs.scope import resolve_scope


async def dry_run(pool: asyncpg.Pool, params: KeyRotationParams,
                  profiles: ProfileCatalog) -> dict[str, Any]:
    targets = rotation_targets(await resolve_scope(pool, params.scope), profiles)
    return {"devices": len(targets),
            "batches": [list(b) for b in batches(targets, params.max_parallel)],
            "failure_threshold_pct": params.failure_threshold_pct}
