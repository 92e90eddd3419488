"""Dry run for a firmware rollout: the waves and thresholds, no device I/O, no row."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from gridjobs.firmware.artifacts import get_artifact
from gridjobs.profiles import ProfileCatalog
from gridjobs.rollout.params import FirmwareRolloutParams
from gridjobs.rollout.planner import plan_waves
from gridjobs.rollout.runner import rollout_targets
from gridjobs.run.gating import batches
from gridjobs.scope import resolve_scope


async def dry_run(pool: asyncpg.Pool, params: FirmwareRolloutParams,
                  profiles: ProfileCatalog) -> dict[str, Any]:
    artifact = await get_artifact(pool, UUID(str(params.firmware_id)))
    targets = rollout_targets(await resolve_scope(pool, params.scope), artifact)
    waves = plan_waves(targets, params.waves)
    return {
        "firmware": {"id": str(artifact.id), "version": artifact.version,
                     "profile": artifact.profile, "size": artifact.size},
        "waves": [{"wave": i + 1, "device_ids": list(w),
                   "batches": len(batches(w, params.max_parallel))} for i, w in enumerate(waves)],
        "thresholds": {"failure_threshold_pct": params.failure_threshold_pct,
                       "min_executed": params.min_executed},
        "approval": params.approval,
        "soak_s": params.soak_s,
        # Without reading versions, every targeted device is expected to take a transfer.
        "expected_transfers": len(targets),
        "expected_bytes": len(targets) * artifact.size,
    }
