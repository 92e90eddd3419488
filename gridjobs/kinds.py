"""The operation kinds gridjobs knows: params model, intake checks, dry run, runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import asyncpg
from pydantic import BaseModel

from gridjobs.dispatch.context import Finish, RunContext
from gridjobs.load_shed.dry_run import dry_run as load_shed_dry_run
from gridjobs.load_shed.params import LoadShedParams
from gridjobs.load_shed.strategy import run_load_shed
from gridjobs.der.dry_run import dry_run as der_dry_run
from gridjobs.der.params import DerCurtailmentParams
from gridjobs.der.strategy import is_der, run_der_curtailment
from gridjobs.errors import ValidationFailed
from gridjobs.scope import check_scope, resolve_scope


@dataclass(frozen=True)
class OperationKind:
    name: str
    params_model: type[BaseModel]
    check: Callable[[asyncpg.Connection, Any], Awaitable[None]]
    dry_run: Callable[[asyncpg.Pool, Any], Awaitable[dict[str, Any]]]
    run: Callable[[RunContext], Awaitable[Finish]]


async def _check_scoped(conn: asyncpg.Connection, params: Any) -> None:
    await check_scope(conn, params.scope, field="params.scope")


async def _check_der_scope(conn: asyncpg.Connection, params: Any) -> None:
    await _check_scoped(conn, params)
    if not any(is_der(d) for d in await resolve_scope(conn, params.scope)):
        raise ValidationFailed(
            "the scope contains no device whose profile supports DER curtailment",
            extra={"errors": [{"field": "params.scope", "message": "no DER-capable devices"}]},
        )


KINDS: dict[str, OperationKind] = {
    "load_shed": OperationKind(
        name="load_shed",
        params_model=LoadShedParams,
        check=_check_scoped,
        dry_run=load_shed_dry_run,
        run=run_load_shed,
    ),
    "der_curtailment": OperationKind(
        name="der_curtailment",
        params_model=DerCurtailmentParams,
        check=_check_der_scope,
        dry_run=der_dry_run,
        run=run_der_curtailment,
    ),
}
