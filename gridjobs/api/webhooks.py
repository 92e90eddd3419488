"""/v1/webhooks: a principal's own webhook endpoints, their secrets (shown once) and
their delivery log. Another principal's endpoint reads as missing (404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gridjobs.api.parsing import decode_cursor, encode_cursor, path_uuid, query, read_json
from gridjobs.api.principal import principal_of
from gridjobs.api.queries import BY_AUDIT_ID, Page
from gridjobs.api.schemas import FeederName
from gridjobs.errors import NotFound, quoted
from gridjobs.event_types import EventType
from gridjobs.store import deliveries
from gridjobs.store.deliveries import Delivery
from gridjobs.store.webhooks import Endpoint, list_endpoints
from gridjobs.validation import text, validate
from gridjobs.webhooks import endpoints
from gridjobs.webhooks.endpoints import Owner, WithSecret
from gridjobs.webhooks.urls import MAX_URL_LENGTH, parse_allow_hosts


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: text(max_length=MAX_URL_LENGTH) = Field(
        description="https:// (plain http only to loopback or an allow-listed host); redirects are not followed")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))
    feeders: list[FeederName] | None = Field(default=None, min_length=1, max_length=10_000,
                                             description="only operations within these feeders "
                                                         "(and within your area); omit for your whole area")
    description: text(max_length=500) | None = None


class WebhookOut(BaseModel):
    id: UUID
    url: str
    event_types: list[EventType]
    feeders: list[str] | None = Field(description="operations within these feeders (null: every feeder)")
    description: str | None
    status: str = Field(description="enabled, or disabled (see disabled_reason)")
    disabled_reason: str | None = Field(description="gone (the receiver answered 410), failing (5 days "
                                                    "in a row) or principal_revoked")
    failing_since: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, e: Endpoint) -> dict[str, Any]:
        return {"id": str(e.id), "url": e.url, "event_types": list(e.event_types),
                "feeders": list(e.feeders) if e.feeders is not None else None,
                "description": e.description, "status": e.status, "disabled_reason": e.disabled_reason,
                "failing_since": _iso(e.failing_since), "created_at": _iso(e.created_at)}


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="whsec_…: the signing secret, shown in this answer only")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response: str | None = Field(description="the first 1 KiB of the receiver's answer")


class DeliveryOut(BaseModel):
    id: int
    event_id: int = Field(description="the outbox id; webhook-id is evt_<event_id>")
    event_type: str
    operation_id: UUID | None
    state: str = Field(description="pending, sending, delivered or failed")
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> dict[str, Any]:
        return {"id": d.id, "event_id": d.event_id, "event_type": d.event_type,
                "operation_id": str(d.operation_id) if d.operation_id else None, "state": d.state,
                "attempts": list(d.attempt_log),
                "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
                "created_at": _iso(d.created_at)}


class RetriedOut(BaseModel):
    id: int
    state: Literal["pending"]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


def _owner(request: Request) -> Owner:
    principal = principal_of(request)
    return Owner(principal.name, principal.feeders)


def _runtime(request: Request):
    return request.app.state.runtime


def _with_secret(created: WithSecret, status_code: int, **headers: str) -> Response:
    body = {**WebhookOut.of(created.endpoint), "secret": created.secret.shown}
    return JSONResponse(body, status_code=status_code, headers={"Cache-Control": "no-store", **headers})


async def create(request: Request) -> Response:
    body = validate(WebhookIn, await read_json(request))
    runtime = _runtime(request)
    created = await endpoints.create(
        runtime.keyring, _owner(request),
        endpoints.Request(body.url, tuple(body.event_types), tuple(body.feeders) if body.feeders else None,
                          body.description),
        allow_hosts=parse_allow_hosts(runtime.settings.webhook_allow_hosts))
    request.state.audit_target = str(created.endpoint.id)
    return _with_secret(created, 201, Location=f"/v1/webhooks/{created.endpoint.id}")


async def list_all(request: Request) -> Response:
    found = await list_endpoints(_runtime(request).pool, _owner(request).name)
    return JSONResponse({"items": [WebhookOut.of(e) for e in found]})


def _id(request: Request) -> UUID:
    return path_uuid(request, what="webhook")


async def get_one(request: Request) -> Response:
    return JSONResponse(WebhookOut.of(await endpoints.get(_runtime(request).pool, _owner(request), _id(request))))


async def delete(request: Request) -> Response:
    await endpoints.delete(_runtime(request).pool, _owner(request), _id(request))
    return Response(status_code=204)


async def rotate_secret(request: Request) -> Response:
    return _with_secret(await endpoints.rotate(_runtime(request).keyring, _owner(request), _id(request)), 200)


async def list_deliveries(request: Request) -> Response:
    q = query(request, Page)
    endpoint = await endpoints.get(_runtime(request).pool, _owner(request), _id(request))
    before = decode_cursor(q.cursor, BY_AUDIT_ID)
    found = await deliveries.list_deliveries(_runtime(request).pool, endpoint.id,
                                             before_id=before[0] if before else None, limit=q.limit)
    next_cursor = encode_cursor([found[-1].id]) if len(found) == q.limit else None
    return JSONResponse({"items": [DeliveryOut.of(d) for d in found], "next_cursor": next_cursor})


async def retry(request: Request) -> Response:
    endpoint = await endpoints.get(_runtime(request).pool, _owner(request), _id(request))
    raw = request.path_params["delivery_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"delivery {quoted(raw)} does not exist")
    await deliveries.retry(_runtime(request).pool, endpoint.id, int(raw))
    return JSONResponse({"id": int(raw), "state": "pending"}, status_code=202)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
