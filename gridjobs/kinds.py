"""The operation kinds gridjobs knows: params model, intake checks, dry run, runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import asyncpg
from pydantic import BaseModel

from gridjobs.curtailment.dry_run import dry_run as curtailment_dry_run
from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.strategy import DerStrategy, run_der_curtailment
from gridjobs.errors import ValidationFailed
from gridjobs.firmware.artifacts import firmware_for_rollout
from gridjobs.key_rotation.dry_run import dry_run as rotation_dry_run
from gridjobs.key_rotation.params import KeyRotationParams
from gridjobs.key_rotation.runner import run_key_rotation
from gridjobs.rollout.dry_run import dry_run as rollout_dry_run
from gridjobs.rollout.params import FirmwareRolloutParams
from gridjobs.rollout.runner import run_firmware_rollout
from gridjobs.load_shed.params import LoadShedParams
from gridjobs.load_shed.strategy import LoadShedStrategy, run_load_shed
from gridjobs.profiles import ProfileCatalog
from gridjobs.records import Device
from gridjobs.run.context import Finish, RunContext
from gridjobs.scope import check_scope


@dataclass(frozen=True)
class OperationKind:
    name: str
    params_model: type[BaseModel]
    # The scope's devices, once checked (422 for a scope this kind cannot act on).
    check: Callable[[asyncpg.Connection | asyncpg.Pool, Any, ProfileCatalog], Awaitable[list[Device]]]
    dry_run: Callable[[asyncpg.Pool, Any, ProfileCatalog], Awaitable[dict[str, Any]]]
    run: Callable[[RunContext], Awaitable[Finish]]


def _needs(what: str, capable: Callable[[ProfileCatalog, str], bool]):
    async def check(conn: asyncpg.Connection | asyncpg.Pool, params: Any, profiles: ProfileCatalog) -> list[Device]:
        devices = await check_scope(conn, params.scope, field="params.scope")
        if not any(capable(profiles, d.profile) for d in devices):
            raise ValidationFailed(
                f"the scope contains no device whose profile supports {what}",
                extra={"errors": [{"field": "params.scope", "message": f"no {what} devices"}]},
            )
        return devices
    return check


async def _check_rollout(conn: asyncpg.Connection | asyncpg.Pool, params: Any, profiles: ProfileCatalog) -> list[Device]:
    artifact = await firmware_for_rollout(conn, params.firmware_id)
    devices = await check_scope(conn, params.scope, field="params.scope")
    if not any(d.profile == artifact.profile for d in devices):
        raise ValidationFailed(
            f"the scope has no device with profile {artifact.profile!r}, "
            f"which firmware {artifact.version} is built for",
            extra={"errors": [{"field": "params.scope", "message": "no matching devices"}]},
        )
    return devices


async def load_shed_dry_run(pool: asyncpg.Pool, params: Any, profiles: ProfileCatalog) -> dict[str, Any]:
    return await curtailment_dry_run(pool, params, LoadShedStrategy(params, profiles))


async def der_dry_run(pool: asyncpg.Pool, params: Any, profiles: ProfileCatalog) -> dict[str, Any]:
    return await curtailment_dry_run(pool, params, DerStrategy(params, profiles))


KINDS: dict[str, OperationKind] = {
    "load_shed": OperationKind(
        name="load_shed",
        params_model=LoadShedParams,
        check=_needs("load shedding", ProfileCatalog.is_load),
        dry_run=load_shed_dry_run,
        run=run_load_shed,
    ),
    "der_curtailment": OperationKind(
        name="der_curtailment",
        params_model=DerCurtailmentParams,
        check=_needs("DER curtailment", ProfileCatalog.is_der),
        dry_run=der_dry_run,
        run=run_der_curtailment,
    ),
    "key_rotation": OperationKind(
        name="key_rotation",
        params_model=KeyRotationParams,
        check=_needs("key rotation", ProfileCatalog.requires_auth),
        dry_run=rotation_dry_run,
        run=run_key_rotation,
    ),
    "firmware_rollout": OperationKind(
        name="firmware_rollout",
        params_model=FirmwareRolloutParams,
        check=_check_rollout,
        dry_run=rollout_dry_run,
        run=run_firmware_rollout,
    ),
}
