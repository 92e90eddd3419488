"""Server-Sent Event streams of the outbox: GET /v1/operations/{id}/events and GET /v1/events.

Each SSE event's `id` is the outbox id and its data the webhook envelope. A
client that reconnects with Last-Event-ID gets every event after it, once. Only
events within the principal's area are sent. Streams are bounded per process
(api/stream_limit.py) and per stream (GRIDJOBS_STREAM_BUFFER events waiting;
past that, or a client that takes nothing for GRIDJOBS_STREAM_SEND_TIMEOUT_S,
the stream is closed and the client resumes from its Last-Event-ID).
"""

from __future__ import annotations

import json
from typing import AsyncIterator

import anyio

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from gridjobs.api.parsing import path_uuid, query
from gridjobs.api.principal import principal_of, visible
from gridjobs.api.schemas import FeederName
from gridjobs.errors import BadRequest, ValidationFailed, quoted
from gridjobs.event_types import EventType
from gridjobs.metrics import EVENT_STREAMS_CUT
from gridjobs.outbox.streams import follow
from gridjobs.store import operations as store
from gridjobs.store.events import Event, EventFilter
from gridjobs.validation import text

LAST_EVENT_ID = "last-event-id"
MAX_EVENT_ID = 2**63 - 1
_FEEDER = TypeAdapter(FeederName)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")   # an unknown parameter is a mistake, not a filter to skip

    types: text(max_length=2000) | None = Field(
        default=None, description="comma-separated event types (default: every type)")
    feeders: text(max_length=10_000) | None = Field(
        default=None, description="comma-separated feeders: only operations within them")


class EventStream(EventSourceResponse):
    """An EventSourceResponse that treats a client too slow to take bytes as gone, and
    that ends when gridjobs ends it: a stop (Runtime.begin_stop) closes the event hub,
    which ends every stream. sse-starlette's own exit watcher is a process-wide task
    polling uvicorn's flags; it would outlive the server that started it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            EVENT_STREAMS_CUT.labels("send_timeout").inc()

    async def _listen_for_exit_signal_with_grace(self) -> None:
        await anyio.sleep_forever()


def last_event_id(request: Request) -> int | None:
    raw = request.headers.get(LAST_EVENT_ID)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > MAX_EVENT_ID:
        raise BadRequest(f"Last-Event-ID {quoted(raw)} is not an event id (a whole number)")
    return int(raw)


def _sse(events: AsyncIterator[Event]) -> AsyncIterator[ServerSentEvent]:
    async def encoded() -> AsyncIterator[ServerSentEvent]:
        async for event in events:
            yield ServerSentEvent(json.dumps(event.envelope(), separators=(",", ":")), event=event.type,
                                  id=str(event.id))
    return encoded()


def _stream(request: Request, where: EventFilter, after: int | None) -> EventStream:
    runtime = request.app.state.runtime
    settings = runtime.settings
    events = follow(runtime.pool, runtime.outbox.hub, where, after=after, capacity=settings.stream_buffer)
    return EventStream(_sse(events), ping=settings.stream_heartbeat_s,
                       send_timeout=settings.stream_send_timeout_s)


async def operation_events(request: Request) -> EventStream:
    principal = principal_of(request)
    after = last_event_id(request)
    operation = await store.get_operation_summary(runtime_pool(request), path_uuid(request))
    visible(request, operation, operation.feeders, f"operation {operation.id} does not exist")
    where = EventFilter(operation_id=operation.id, area=principal.feeders, principal=principal.name)
    return _stream(request, where, after)


async def all_events(request: Request) -> EventStream:
    principal = principal_of(request)
    q = query(request, EventsQuery)
    after = last_event_id(request)
    where = EventFilter(types=_types(q.types), area=principal.feeders, feeders=_feeders(q.feeders),
                        principal=principal.name)
    return _stream(request, where, after)


def runtime_pool(request: Request):
    return request.app.state.runtime.pool


def _types(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = [t.strip() for t in raw.split(",") if t.strip()]
    unknown = sorted(set(names) - set(EventType))
    if unknown or not names:
        message = f"must be event types among {', '.join(EventType)}"
        raise ValidationFailed(f"query parameter 'types': {quoted(','.join(unknown))} {message}",
                               extra={"errors": [{"field": "types", "message": message}]})
    return frozenset(names)


def _feeders(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    names = [f.strip() for f in raw.split(",") if f.strip()]
    if not names:
        raise ValidationFailed("query parameter 'feeders' names no feeder",
                               extra={"errors": [{"field": "feeders", "message": "one or more feeders"}]})
    return frozenset(_FEEDER.validate_python(n) for n in names)
