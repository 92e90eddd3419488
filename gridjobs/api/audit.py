"""GET /v1/audit: the key audit log, newest first. Entries carry no key material."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, query_limit
from gridjobs.api.schemas import DeviceId
from gridjobs.validation import validate
from gridjobs.errors import ValidationFailed
from gridjobs.device_keys.audit import AuditRecord, list_audit


class AuditQuery(BaseModel):
    """The filters of GET /v1/audit (limit and cursor as on every list)."""

    model_config = ConfigDict(extra="ignore")

    device_id: DeviceId | None = Field(default=None, description="only this device")
    operation_id: UUID | None = Field(default=None, description="only this operation")


class AuditOut(BaseModel):
    id: int
    at: datetime
    operation_id: UUID | None
    device_id: str
    step: str
    key_version: int | None
    outcome: str
    detail: str | None

    @classmethod
    def of(cls, r: AuditRecord) -> dict[str, Any]:
        return {"id": r.id, "at": r.at.isoformat(),
                "operation_id": str(r.operation_id) if r.operation_id else None,
                "device_id": r.device_id, "step": r.step, "key_version": r.key_version,
                "outcome": r.outcome, "detail": r.detail}


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


def _before(request: Request) -> int | None:
    cursor = decode_cursor(request)
    if cursor is None:
        return None
    if len(cursor) != 1 or not isinstance(cursor[0], int) or isinstance(cursor[0], bool):
        raise ValidationFailed("query parameter 'cursor' is not a cursor returned by this API",
                               extra={"errors": [{"field": "cursor", "message": "invalid"}]})
    return cursor[0]


async def list_all(request: Request) -> Response:
    query = validate(AuditQuery, dict(request.query_params))
    limit = query_limit(request)
    found = await list_audit(request.app.state.runtime.pool, device_id=query.device_id,
                             operation_id=query.operation_id, before_id=_before(request),
                             limit=limit)
    next_cursor = encode_cursor([found[-1].id]) if len(found) == limit else None
    return JSONResponse({"items": [AuditOut.of(r) for r in found], "next_cursor": next_cursor})
