"""Which devices an operation addresses: a list of feeders or of device ids."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridjobs.errors import ValidationFailed
from gridjobs.records import Device
from gridjobs.store.devices import devices_in_scope
from gridjobs.validation import text

MAX_SCOPE_ITEMS = 10_000
_SHOWN = 10

Name = text(max_length=128)


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feeders: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_SCOPE_ITEMS)
    device_ids: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_SCOPE_ITEMS)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Scope":
        if (self.feeders is None) == (self.device_ids is None):
            raise ValueError("give exactly one of 'feeders' or 'device_ids'")
        return self


async def check_scope(conn: asyncpg.Connection | asyncpg.Pool, scope: Scope, *, field: str) -> list[Device]:
    """The scope's devices; a scope naming unknown devices or feeders is a 422."""
    devices = await resolve_scope(conn, scope)
    if scope.device_ids is not None:
        missing = sorted(set(scope.device_ids) - {d.id for d in devices})
        what = "device"
    else:
        missing = sorted(set(scope.feeders or ()) - {d.feeder for d in devices})
        what = "feeder"
    if missing:
        shown = ", ".join(missing[:_SHOWN]) + (" …" if len(missing) > _SHOWN else "")
        raise ValidationFailed(
            f"{len(missing)} unknown {what}(s) in scope: {shown}",
            extra={"errors": [{"field": field, "message": f"unknown {what}s: {shown}"}]},
        )
    return devices


async def resolve_scope(conn: asyncpg.Connection | asyncpg.Pool, scope: Scope) -> list[Device]:
    return await devices_in_scope(conn, device_ids=scope.device_ids, feeders=scope.feeders)
