"""The page's views: operations, one operation, a feeder, the devices. Each reads, then renders."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from gridjobs.access import policy
from gridjobs.access.policy import Action
from gridjobs.access.roles import Principal
from gridjobs.api.operations import may
from gridjobs.api.parsing import path_uuid, query
from gridjobs.api.principal import principal_of, visible
from gridjobs.api.queries import KindName
from gridjobs.api.schemas import FeederName, OperationOut
from gridjobs.errors import Forbidden, NotFound
from gridjobs.kinds import KINDS
from gridjobs.records import Operation
from gridjobs.states import Status
from gridjobs.store import devices as device_store
from gridjobs.store import operations as store
from gridjobs.store.page_reads import device_history, page_operations
from gridjobs.web import chart
from gridjobs.web.forms import checked_form
from gridjobs.web.snapshot import MAX_DEVICES, snapshot
from gridjobs.web.templating import page

LIST_LIMIT = 100
HISTORY_LIMIT = 100
REGISTRY_LIMIT = 500
SERIES_OUTCOMES = 10_000


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindName | None = None
    status: Status | None = None
    feeder: FeederName | None = None


class DevicesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeder: FeederName | None = None


class FeederQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str | None = Field(default=None, max_length=64)


def _pool(request: Request):
    return request.app.state.runtime.pool


def _empty_is_none(request: Request, model: type[BaseModel]) -> BaseModel:
    """The form's empty selects mean "any"."""
    request.scope["query_string"] = "&".join(
        p for p in request.scope["query_string"].decode("latin-1").split("&") if p and not p.endswith("=")
    ).encode("latin-1")
    return query(request, model)


async def operations(request: Request) -> Response:
    q = _empty_is_none(request, ListQuery)
    ops = await page_operations(_pool(request), kind=q.kind, status=q.status, feeder=q.feeder,
                                limit=LIST_LIMIT, area=principal_of(request).feeders)
    return page(request, "operations.html", ops=ops, q=q, kinds=sorted(KINDS), statuses=list(Status))


def _allowed(principal: Principal, action: Action, op: Operation) -> bool:
    try:
        policy.require_kind(principal, action, op.kind)
    except Forbidden:
        return False
    return True


async def _visible(request: Request) -> Operation:
    op = await store.get_operation(_pool(request), path_uuid(request))
    return visible(request, op, op.feeders, f"operation {op.id} does not exist")


async def operation(request: Request) -> Response:
    op = await _visible(request)
    outcomes = await store.list_outcomes(_pool(request), op.id, after_seq=None, limit=MAX_DEVICES)
    principal = principal_of(request)
    return page(request, "operation.html", op=op, snap=snapshot(op, outcomes, time.time()),
                may_cancel=_allowed(principal, Action.CANCEL, op),
                may_resume=_allowed(principal, Action.RESUME, op))


async def cancel(request: Request) -> Response:
    return await _act(request, Action.CANCEL)


async def resume(request: Request) -> Response:
    return await _act(request, Action.RESUME)


async def _act(request: Request, action: Action) -> Response:
    """Cancel or resume through the same check the API makes (api/operations.may). A form
    post comes back to the view (303); the page's script asks for JSON and stays."""
    await checked_form(request)
    principal, operation_id = principal_of(request), path_uuid(request)
    request.state.audit_target = str(operation_id)
    act = store.cancel if action is Action.CANCEL else store.resume
    op = await act(_pool(request), operation_id, by=principal.name, authorize=may(principal, action))
    if "application/json" in request.headers.get("accept", ""):   # the page's script: it stays
        return JSONResponse(OperationOut.of(op), status_code=202)
    return RedirectResponse(f"/operations/{op.id}", 303)


async def feeder(request: Request) -> Response:
    name = request.path_params["feeder"]
    principal = principal_of(request)
    if not principal.covers({name}):
        raise NotFound(f"feeder {name!r} is not in your area")
    q = query(request, FeederQuery)
    recent = await page_operations(_pool(request), kind=None, status=None, feeder=name,
                                   limit=LIST_LIMIT, area=principal.feeders)
    chosen = next((o for o in recent if str(o.id) == q.operation), recent[0] if recent else None)
    devices = await device_store.list_devices(_pool(request), feeder=name, profile=None, after=None,
                                              limit=REGISTRY_LIMIT * 20, area=principal.feeders)
    drawing = None
    if chosen is not None:
        outcomes = await store.list_outcomes(_pool(request), chosen.id, after_seq=None, limit=SERIES_OUTCOMES)
        series = chart.feeder_series(chosen, outcomes, {d.id for d in devices}, time.time())
        drawing = chart.svg(series, title=f"feeder {name} kW during operation {chosen.id}")
    return page(request, "feeder.html", feeder=name, recent=recent, chosen=chosen, chart=drawing,
                devices=len(devices))


async def devices(request: Request) -> Response:
    q = _empty_is_none(request, DevicesQuery)
    found = await device_store.list_devices(_pool(request), feeder=q.feeder, profile=None, after=None,
                                            limit=REGISTRY_LIMIT, area=principal_of(request).feeders)
    return page(request, "devices.html", devices=found, q=q, limit=REGISTRY_LIMIT)


async def device(request: Request) -> Response:
    found = await device_store.get_device(_pool(request), request.path_params["id"])
    visible(request, found, [found.feeder], f"device {found.id!r} does not exist")
    history = await device_history(_pool(request), found.id, limit=HISTORY_LIMIT,
                                   area=principal_of(request).feeders)
    return page(request, "device.html", device=found, history=history)
