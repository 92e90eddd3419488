"""/v1/operations endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs import intake
from gridjobs.api.inflight import holds_reserve
from gridjobs.api.parsing import decode_cursor, encode_cursor, path_uuid, query, read_json
from gridjobs.api.queries import BY_SEQ, NEWEST_FIRST, OperationsQuery, Page, SubmitQuery
from gridjobs.api.schemas import OperationOut, OutcomeOut
from gridjobs.records import Operation
from gridjobs.store import operations as store

RETRY_AFTER_S = "1"


def _pool(request: Request):
    return request.app.state.runtime.pool


def _profiles(request: Request):
    return request.app.state.runtime.profiles


def _location(op: Operation) -> str:
    return f"/v1/operations/{op.id}"


def _render(op: Operation, status_code: int = 200, **headers: str) -> Response:
    if not op.terminal:
        headers["Retry-After"] = RETRY_AFTER_S
    return JSONResponse(OperationOut.of(op), status_code=status_code, headers=headers)


async def submit(request: Request) -> Response:
    dry_run = query(request, SubmitQuery).dry_run
    body = await read_json(request)
    if dry_run:
        return JSONResponse(await intake.plan(_pool(request), body, profiles=_profiles(request)))
    key = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
    submitted = await intake.accept(_pool(request), body, key=key, profiles=_profiles(request),
                                    gate=request.app.state.runtime.gate,
                                    reserved_slot=holds_reserve(request))
    op = submitted.operation
    headers = {"Location": _location(op), "Operation-Location": _location(op)}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _render(op, 202, **headers)


async def get_one(request: Request) -> Response:
    return _render(await store.get_operation(_pool(request), path_uuid(request)))


async def list_all(request: Request) -> Response:
    q = query(request, OperationsQuery)
    ops = await store.list_operations(_pool(request), kind=q.kind, status=q.status,
                                      before=decode_cursor(q.cursor, NEWEST_FIRST), limit=q.limit)
    last = ops[-1] if len(ops) == q.limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)]) if last else None
    return JSONResponse({"items": [OperationOut.of(o) for o in ops], "next_cursor": next_cursor})


async def list_devices(request: Request) -> Response:
    operation_id = path_uuid(request)
    q = query(request, Page)
    after = decode_cursor(q.cursor, BY_SEQ)
    outcomes = await store.list_outcomes(_pool(request), operation_id,
                                         after_seq=after[0] if after else None, limit=q.limit)
    next_cursor = encode_cursor([outcomes[-1].seq]) if len(outcomes) == q.limit else None
    return JSONResponse({"items": [OutcomeOut.of(o) for o in outcomes], "next_cursor": next_cursor})


async def resume(request: Request) -> Response:
    op = await store.resume(_pool(request), path_uuid(request))
    return _render(op, 202, Location=_location(op))


async def cancel(request: Request) -> Response:
    op = await store.cancel(_pool(request), path_uuid(request))
    return _render(op, 202, Location=_location(op))
