"""The event hub reads the outbox only for the streams it serves: with none, it moves its
position to the newest readable event without fetching a row; a stream that then
subscribes gets the events written after it."""

from __future__ import annotations

import asyncio

import pytest

from gridjobs.outbox import hub as hub_module
from gridjobs.store.events import EventFilter, last_event_id
from tests.integration.test_api_contract import DEVICE, shed
from tests.support import running_service, wait_until


async def test_the_hub_reads_no_events_until_a_stream_subscribes(db_url, monkeypatch):
    reads = []
    real = hub_module.events_after

    async def counted(*args, **kwargs):
        reads.append(args[1])
        return await real(*args, **kwargs)

    monkeypatch.setattr(hub_module, "events_after", counted)
    async with running_service(db_url, execute=False, events_poll_s=0.1) as (runtime, client):
        hub = runtime.outbox.hub
        assert (await client.put("/v1/devices/d1", json=DEVICE)).status_code == 200
        for _ in range(3):
            assert (await client.post("/v1/operations", json=shed())).status_code == 202
        newest = await last_event_id(runtime.pool)

        async def passed() -> bool:
            return hub.position >= newest

        await wait_until(passed, timeout_s=10, interval_s=0.05)
        assert newest > 0 and reads == []   # passed without reading a row

        subscription = hub.subscribe(EventFilter(types=frozenset({"operation.accepted"})), capacity=10)
        try:
            r = await client.post("/v1/operations", json=shed())
            assert r.status_code == 202
            async with asyncio.timeout(10):
                event = await subscription.next()
            assert event is not None and str(event.operation_id) == r.json()["id"]
            assert reads and min(reads) >= newest   # read from where it had passed to
        finally:
            hub.unsubscribe(subscription)
