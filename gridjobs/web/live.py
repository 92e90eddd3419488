"""The operation view's live stream: one SSE connection that sends the view's snapshot
(snapshot.py) whenever it changes.

It follows the operation's outbox events (outbox/streams.py), and reads the
snapshot again after each, at most once per MIN_GAP_S; between events it reads
it every TICK_S, so a phase change that emits no event (the hold starting, a
restore stage) shows too. It sends only what changed, and ends after the
operation's terminal snapshot. The page makes no other request while it follows.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator
from uuid import UUID

from sse_starlette import ServerSentEvent
from starlette.requests import Request

from gridjobs.api.parsing import path_uuid
from gridjobs.api.principal import principal_of, visible
from gridjobs.api.streams import EventStream
from gridjobs.outbox.streams import follow
from gridjobs.store import operations as store
from gridjobs.store.events import Event, EventFilter
from gridjobs.web.snapshot import MAX_DEVICES, snapshot

TICK_S = 1.0
MIN_GAP_S = 0.3


async def operation_live(request: Request) -> EventStream:
    principal = principal_of(request)
    op = await store.get_operation(request.app.state.runtime.pool, path_uuid(request))
    visible(request, op, op.feeders, f"operation {op.id} does not exist")
    where = EventFilter(operation_id=op.id, area=principal.feeders, principal=principal.name)
    settings = request.app.state.runtime.settings
    return EventStream(_snapshots(request.app.state.runtime, op.id, where), ping=settings.stream_heartbeat_s,
                       send_timeout=settings.stream_send_timeout_s)


async def _read(pool, operation_id: UUID) -> dict[str, Any]:
    op = await store.get_operation(pool, operation_id)
    outcomes = await store.list_outcomes(pool, operation_id, after_seq=None, limit=MAX_DEVICES)
    return snapshot(op, outcomes, time.time())


async def _next(events: AsyncIterator[Event]) -> Event | None:
    """The next event; None once the events ended."""
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None


async def _snapshots(runtime: Any, operation_id: UUID, where: EventFilter) -> AsyncIterator[ServerSentEvent]:
    events = follow(runtime.pool, runtime.outbox.hub, where, after=None,
                    capacity=runtime.settings.stream_buffer)
    pending: asyncio.Task | None = asyncio.create_task(_next(events), name="gridjobs-page-live")
    last, read_at, dirty = None, float("-inf"), True
    try:
        while True:
            wait_s = max(0.0, MIN_GAP_S - (time.monotonic() - read_at)) if dirty else TICK_S
            done = (await asyncio.wait({pending}, timeout=wait_s))[0] if pending else set()
            if not done and pending is None:
                await asyncio.sleep(wait_s)
            if pending in done:
                pending = _advance(pending, events)
                dirty = True
                if time.monotonic() - read_at < MIN_GAP_S:
                    continue
            current = await _read(runtime.pool, operation_id)
            read_at, dirty = time.monotonic(), False
            if _steady(current) != last:
                last = _steady(current)
                yield ServerSentEvent(json.dumps(current, separators=(",", ":")), event="snapshot")
            if current["terminal"]:
                return
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        await events.aclose()


def _steady(view: dict[str, Any]) -> dict[str, Any]:
    """The snapshot less the hold's countdown, which the page keeps by itself."""
    return {**view, "phase": {k: v for k, v in view["phase"].items() if k not in ("label", "left_s")}}


def _advance(done: asyncio.Task, events: AsyncIterator[Event]) -> asyncio.Task | None:
    """The task for the event after `done`; None once the events ended (the ticks go on)."""
    if done.result() is None:
        return None
    return asyncio.create_task(_next(events), name="gridjobs-page-live")
