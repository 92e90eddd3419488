"""GET /v1/audit (the key audit log) and /v1/audit/requests (the request audit), newest
first. Entries carry no key material and no credential."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, query
from gridjobs.api.queries import BY_AUDIT_ID, AuditQuery, RequestAuditQuery
from gridjobs.device_keys.audit import AuditRecord, list_audit
from gridjobs.store.request_audit import RequestRecord, list_entries


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


class RequestAuditOut(BaseModel):
    id: int
    at: datetime
    principal: str | None
    via: str | None
    roles: list[str]
    method: str
    route: str
    target: str | None
    request_id: str | None
    status: int
    detail: str | None

    @classmethod
    def of(cls, r: RequestRecord) -> dict[str, Any]:
        return {"id": r.id, "at": r.at.isoformat(), "principal": r.principal, "via": r.via,
                "roles": list(r.roles), "method": r.method, "route": r.route, "target": r.target,
                "request_id": r.request_id, "status": r.status, "detail": r.detail}


class RequestAuditPage(BaseModel):
    items: list[RequestAuditOut]
    next_cursor: str | None


async def list_requests(request: Request) -> Response:
    """GET /v1/audit/requests: every state-changing request, allowed or denied, newest first."""
    q = query(request, RequestAuditQuery)
    before = decode_cursor(q.cursor, BY_AUDIT_ID)
    found = await list_entries(request.app.state.runtime.pool, principal=q.principal,
                               before_id=before[0] if before else None, limit=q.limit)
    next_cursor = encode_cursor([found[-1].id]) if len(found) == q.limit else None
    return JSONResponse({"items": [RequestAuditOut.of(r) for r in found], "next_cursor": next_cursor})
