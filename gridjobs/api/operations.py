"""/v1/operations endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs import intake
from gridjobs.access import policy
from gridjobs.access.policy import Action
from gridjobs.access.roles import Principal
from gridjobs.api.fast_json import FastJSONResponse
from gridjobs.api.inflight import holds_reserve
from gridjobs.api.principal import principal_of, visible
from gridjobs.api.parsing import decode_cursor, encode_cursor, path_uuid, query, read_json
from gridjobs.api.queries import BY_SEQ, NEWEST_FIRST, OperationsQuery, Page, SubmitQuery
from gridjobs.api.schemas import OperationOut, OutcomeOut
from gridjobs.errors import Forbidden
from gridjobs.records import Operation
from gridjobs.runtime import Runtime
from gridjobs.store import operations as store
from gridjobs.store.operations import Locked

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
    return FastJSONResponse(OperationOut.of(op), status_code=status_code, headers=headers)


def _caller(request: Request, runtime: Runtime | None = None) -> intake.Caller:
    runtime = runtime or request.app.state.runtime
    return intake.Caller(principal_of(request), runtime.access.spend, runtime.settings.emergency_priority)


async def submit(request: Request) -> Response:
    dry_run = query(request, SubmitQuery).dry_run
    body = await read_json(request)
    if dry_run:
        return JSONResponse(await intake.plan(_pool(request), body, profiles=_profiles(request),
                                              caller=_caller(request)))
    key = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
    runtime = request.app.state.runtime
    submitted = await intake.accept(runtime.pool, body, key=key, profiles=runtime.profiles,
                                    caller=_caller(request, runtime), gate=runtime.gate,
                                    reserved_slot=holds_reserve(request),
                                    index=getattr(runtime, "devices_index", None),
                                    batcher=getattr(runtime, "submissions", None))
    op = submitted.operation
    request.state.audit_target = str(op.id)
    headers = {"Location": _location(op), "Operation-Location": _location(op)}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _render(op, 202, **headers)


async def _visible(request: Request) -> Operation:
    """The operation of the path, if it lies in the principal's area (404 otherwise)."""
    operation = await store.get_operation_summary(_pool(request), path_uuid(request))
    return visible(request, operation, operation.feeders, f"operation {operation.id} does not exist")


async def get_one(request: Request) -> Response:
    return _render(await _visible(request))


async def list_all(request: Request) -> Response:
    q = query(request, OperationsQuery)
    ops = await store.list_operations(_pool(request), kind=q.kind, status=q.status,
                                      before=decode_cursor(q.cursor, NEWEST_FIRST), limit=q.limit,
                                      area=principal_of(request).feeders)
    last = ops[-1] if len(ops) == q.limit else None
    next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)]) if last else None
    return FastJSONResponse({"items": [OperationOut.of(o) for o in ops], "next_cursor": next_cursor})


async def list_devices(request: Request) -> Response:
    q = query(request, Page)
    operation_id = (await _visible(request)).id
    after = decode_cursor(q.cursor, BY_SEQ)
    outcomes = await store.list_outcomes(_pool(request), operation_id,
                                         after_seq=after[0] if after else None, limit=q.limit)
    next_cursor = encode_cursor([outcomes[-1].seq]) if len(outcomes) == q.limit else None
    return JSONResponse({"items": [OutcomeOut.of(o) for o in outcomes], "next_cursor": next_cursor})


def may(principal: Principal, action: Action):
    """The check a cancel or resume makes on the locked operation, in its transaction."""
    def authorize(locked: Locked) -> None:
        policy.require_kind(principal, action, locked.kind)
        policy.require_area(principal, locked.feeders, "the operation")
        if action is Action.RESUME and locked.approval == "manual" and locked.submitted_by == principal.name:
            raise Forbidden(f"two-person rule: {principal.name!r} submitted this operation with manual "
                            "approval, so another principal must resume it")
    return authorize


async def resume(request: Request) -> Response:
    principal = principal_of(request)
    op = await store.resume(_pool(request), path_uuid(request), by=principal.name,
                            authorize=may(principal, Action.RESUME))
    return _render(op, 202, Location=_location(op))


async def cancel(request: Request) -> Response:
    principal = principal_of(request)
    op = await store.cancel(_pool(request), path_uuid(request), by=principal.name,
                            authorize=may(principal, Action.CANCEL))
    return _render(op, 202, Location=_location(op))
