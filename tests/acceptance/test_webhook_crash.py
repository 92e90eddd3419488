"""kill -9 of `gridjobs serve` while an operation's last event is on its way: after a
restart it is delivered, with the same webhook-id, and over a campaign of
operations the receiver gets exactly what the outbox holds (at least once).

The server runs as a subprocess; the fleet and the receiver run in the test.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gridjobs.event_types import EventType
from gridjobs.store.database import create_pool
from simulators import Fleet
from tests.acceptance.server import ServerProcess
from tests.receiver import Arrival, Receiver, receiving
from tests.support import serving, wait_for_status, wait_until

HANG_S = 60.0   # the held answer waits at most this long for the test to let it go


@pytest.fixture
async def fleet():
    async with serving(Fleet.build(devices=20, gateways=2, host="127.0.0.1", port=0, seed=3,
                                   feeders=2)) as f:
        yield f


@pytest.fixture
def server(db_url, tmp_path):
    proc = ServerProcess(db_url, tmp_path / "server.log", GRIDJOBS_WEBHOOK_TIMEOUT_S="3",
                         GRIDJOBS_WEBHOOK_RETRY_FACTOR="0.01", GRIDJOBS_EVENTS_POLL_S="0.2")
    yield proc
    proc.stop()


def shed(fleet) -> dict:
    kw = sum(d.measured_kw() for d in fleet.devices if not d.spec.protected)
    return {"kind": "load_shed", "params": {"target_kw": round(kw * 0.3, 1), "scope": {"feeders": ["F1", "F2"]},
                                            "hold_s": 0, "revert_timeout_s": 30}}


class HoldFirstSuccess:
    """Answers 200, except the first operation.succeeded, which it holds unanswered."""

    def __init__(self) -> None:
        self.holding, self.release = asyncio.Event(), asyncio.Event()

    async def __call__(self, arrival: Arrival, index: int) -> tuple[int, dict[str, str]]:
        if arrival.payload["type"] == EventType.OPERATION_SUCCEEDED and not self.holding.is_set():
            self.holding.set()
            try:
                await asyncio.wait_for(self.release.wait(), HANG_S)
            except TimeoutError:
                pass
        return 200, {}


async def submit(client: httpx.AsyncClient, fleet) -> str:
    r = await client.post("/v1/operations", json=shed(fleet))
    assert r.status_code == 202, r.text
    return r.json()["id"]


async def test_kill9_before_the_delivery_then_restart_delivers_it_and_loses_nothing(server, fleet, db_url):
    plan = HoldFirstSuccess()
    async with receiving(Receiver(plan)) as receiver:
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            assert (await client.post("/v1/devices", json=fleet.inventory())).status_code == 200
            hook = await client.post("/v1/webhooks", json={"url": receiver.url, "event_types": list(EventType)})
            receiver.secrets["it"] = hook.json()["secret"]
            first = await submit(client, fleet)
            await asyncio.wait_for(plan.holding.wait(), 90)   # its succeeded event is on its way
        server.kill9()
        plan.release.set()
        held = receiver.of_type(EventType.OPERATION_SUCCEEDED)[0]
        await server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10, headers=server.headers) as client:
            async def redelivered():
                return len(receiver.of_type(EventType.OPERATION_SUCCEEDED)) >= 2
            await wait_until(redelivered, timeout_s=60)
            campaign = [await submit(client, fleet) for _ in range(4)]
            for op_id in campaign:
                await wait_for_status(client, op_id, timeout_s=120)
            outbox = await _outbox(db_url, [first, *campaign])

            async def all_arrived():
                return _received(receiver) >= outbox
            await wait_until(all_arrived, timeout_s=60)
    again = receiver.of_type(EventType.OPERATION_SUCCEEDED)[1]
    assert again.id == held.id and again.payload["data"]["operation_id"] == first
    assert _received(receiver) == outbox
    assert {t for _, t in outbox} >= {"operation.accepted", "operation.started", "operation.succeeded"}
    assert all(a.verified == {"it": True} for a in receiver.arrivals)


def _received(receiver: Receiver) -> set[tuple[str, str]]:
    return {(a.payload["data"]["operation_id"], a.payload["type"]) for a in receiver.arrivals}


async def _outbox(db_url: str, operation_ids: list[str]) -> set[tuple[str, str]]:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        rows = await pool.fetch("SELECT operation_id::text, type FROM events WHERE operation_id::text = ANY($1)",
                                operation_ids)
    finally:
        await pool.close()
    return {(r["operation_id"], r["type"]) for r in rows}
