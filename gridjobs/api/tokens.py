"""/v1/tokens: API tokens, for security administrators. A new token is shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.access.admin import create_token
from gridjobs.access.roles import AccessRole
from gridjobs.api.parsing import read_json
from gridjobs.api.schemas import FeederName
from gridjobs.errors import ValidationFailed
from gridjobs.store.tokens import TokenRecord, list_tokens, revoke_token
from gridjobs.validation import text, validate

TokenName = text(max_length=64)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")   # strict where it matters: all_feeders is a StrictBool

    name: TokenName
    roles: list[AccessRole] = Field(min_length=1, max_length=len(AccessRole))
    feeders: list[FeederName] | None = Field(default=None, min_length=1, max_length=10_000,
                                             description="the area; omit with all_feeders: true")
    all_feeders: StrictBool = Field(default=False, description="every feeder")
    expires: str | None = Field(default=None, pattern=r"^\d{1,5}[dhm]$", description="e.g. 90d, 12h, 30m")


class TokenOut(BaseModel):
    name: str
    roles: list[AccessRole]
    feeders: list[str] | None
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, r: TokenRecord) -> dict[str, Any]:
        return {"name": r.name, "roles": list(r.roles), "feeders": list(r.feeders) if r.feeders else None,
                "expires_at": _iso(r.expires_at), "created_at": _iso(r.created_at),
                "revoked_at": _iso(r.revoked_at), "last_used_at": _iso(r.last_used_at)}


class CreatedTokenOut(TokenOut):
    token: str = Field(description="the bearer token: shown this once, kept nowhere")


class TokenList(BaseModel):
    items: list[TokenOut]


async def create(request: Request) -> Response:
    body = validate(TokenIn, await read_json(request))
    if body.all_feeders == (body.feeders is not None):
        raise ValidationFailed("give either feeders or all_feeders: true",
                               extra={"errors": [{"field": "feeders", "message": "feeders or all_feeders"}]})
    created = await create_token(request.app.state.runtime.pool, name=body.name, roles=body.roles,
                                 feeders=None if body.all_feeders else body.feeders, expires=body.expires)
    request.state.audit_target = created.record.name
    return JSONResponse({**TokenOut.of(created.record), "token": created.token}, status_code=201,
                        headers={"Cache-Control": "no-store"})


async def list_all(request: Request) -> Response:
    found = await list_tokens(request.app.state.runtime.pool)
    return JSONResponse({"items": [TokenOut.of(r) for r in found]})


async def revoke(request: Request) -> Response:
    runtime = request.app.state.runtime
    token_id = await revoke_token(runtime.pool, request.path_params["name"])
    if runtime.access is not None:
        # This process does not wait for its own NOTIFY: the next request here is refused.
        runtime.access.authenticator.forget(token_id)
    return Response(status_code=204)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
