"""Which devices an operation addresses: a list of feeders or of device ids."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gridjobs.errors import ValidationFailed
from gridjobs.records import Device
from gridjobs.store.devices import devices_in_scope, known_feeders

MAX_SCOPE_ITEMS = 10_000
_SHOWN = 10

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feeders: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_SCOPE_ITEMS)
    device_ids: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_SCOPE_ITEMS)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Scope":
        if (self.feeders is None) == (self.device_ids is None):
            raise ValueError("give exactly one of 'feeders' or 'device_ids'")
        return self


async def check_scope(conn: asyncpg.Connection, scope: Scope, *, field: str) -> None:
    """Reject a scope that names unknown devices or feeders (422, nothing written)."""
    if scope.device_ids is not None:
        found = {d.id for d in await devices_in_scope(conn, device_ids=scope.device_ids, feeders=None)}
        missing = sorted(set(scope.device_ids) - found)
        what = "device"
    else:
        missing = sorted(set(scope.feeders or ()) - await known_feeders(conn, scope.feeders or ()))
        what = "feeder"
    if missing:
        shown = ", ".join(missing[:_SHOWN]) + (" …" if len(missing) > _SHOWN else "")
        raise ValidationFailed(
            f"{len(missing)} unknown {what}(s) in scope: {shown}",
            extra={"errors": [{"field": field, "message": f"unknown {what}s: {shown}"}]},
        )


async def resolve_scope(conn: asyncpg.Connection | asyncpg.Pool, scope: Scope) -> list[Device]:
    return await devices_in_scope(conn, device_ids=scope.device_ids, feeders=scope.feeders)
