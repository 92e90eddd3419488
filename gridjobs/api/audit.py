"""GET /v1/audit: the key audit log, newest first. Entries carry no key material."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, query
from gridjobs.api.queries import BY_AUDIT_ID, AuditQuery
from gridjobs.device_keys.audit import AuditRecord, list_audit


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


async def list_all(request: Request) -> Response:
    q = query(request, AuditQuery)
    before = decode_cursor(q.cursor, BY_AUDIT_ID)
    found = await list_audit(request.app.state.runtime.pool, device_id=q.device_id,
                             operation_id=q.operation_id, before_id=before[0] if before else None,
                             limit=q.limit)
    next_cursor = encode_cursor([found[-1].id]) if len(found) == q.limit else None
    return JSONResponse({"items": [AuditOut.of(r) for r in found], "next_cursor": next_cursor})
