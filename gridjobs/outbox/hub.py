"""One reader of the outbox per process, fanning new events out to its streams.

The hub reads events in id order below the horizon (gridjobs.store.events) and
offers each to every subscription. A subscription holds at most `capacity`
events: when one more does not fit, it is marked overflowed and takes no more,
so a stream that cannot keep up costs a bounded buffer, never the server's
memory. Its stream sends what it holds and ends; the client reconnects with
Last-Event-ID and catches up from Postgres.

With no subscription, the hub reads no events: it only moves its position to
the newest event a reader may pass (one index lookup), so a process that serves
no stream does not fetch and decode every event its intake writes.
"""

from __future__ import annotations

import asyncio
from collections import deque

import structlog

from gridjobs import background
from gridjobs.errors import GridjobsError
from gridjobs.outbox.waking import Backoff, Wake
from gridjobs.store.events import Event, EventFilter, events_after, held_back, last_event_id

READ_BATCH = 1000
RETRY_S = 2.0

log = structlog.get_logger("gridjobs.outbox")


class Subscription:
    def __init__(self, where: EventFilter, capacity: int, start: int) -> None:
        self.where, self.capacity = where, capacity
        self.start = start              # every event after this id comes through here
        self.overflowed = self.closed = False
        self._queue: deque[Event] = deque()
        self._ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.overflowed or self.closed or not self.where.matches(event):
            return
        if len(self._queue) >= self.capacity:
            self.overflowed = True
        else:
            self._queue.append(event)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> Event | None:
        """The next event; None once it overflowed or closed and what it held is taken."""
        while not self._queue:
            if self.overflowed or self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()


class EventHub:
    def __init__(self, pool, *, poll_s: float) -> None:
        self._pool, self._poll_s = pool, poll_s
        self._subscriptions: set[Subscription] = set()
        self._wake = Wake()
        self._task: asyncio.Task | None = None
        self.position = 0     # every event up to here was offered
        self.closed = False

    async def start(self) -> None:
        self.position = await last_event_id(self._pool)
        self._task = background.start(self._run(), name="gridjobs-event-hub")

    def wake(self) -> None:
        self._wake.set()

    def subscribe(self, where: EventFilter, capacity: int) -> Subscription:
        subscription = Subscription(where, capacity, self.position)
        if self.closed:
            subscription.close()
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def close(self) -> None:
        """End every stream (the process is stopping); the task stops with `stop`."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription.close()

    async def stop(self) -> None:
        self.close()
        if self._task is not None:
            await background.stop(self._task)

    async def _run(self) -> None:
        backoff = Backoff(self._poll_s)
        while True:
            try:
                if await self._pull():   # caught up
                    waiting = bool(self._subscriptions) and await held_back(self._pool)
                    await self._wake.nap(backoff.pause(waiting))
            except GridjobsError as exc:
                log.warning("event_hub_read_failed", error=str(exc))
                await asyncio.sleep(RETRY_S)

    async def _pull(self) -> bool:
        if not self._subscriptions:   # no stream to offer events to: pass them unread
            latest = await last_event_id(self._pool)
            if not self._subscriptions:   # one that came meanwhile starts at the old position
                self.position = max(self.position, latest)
            return True
        events = await events_after(self._pool, self.position, limit=READ_BATCH)
        for event in events:   # no await in here: a subscribe sees a consistent position
            for subscription in list(self._subscriptions):
                subscription.offer(event)
            self.position = event.id
        return len(events) < READ_BATCH
