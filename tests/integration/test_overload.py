"""Overload is answered, not absorbed: admission by lane, the in-flight bound, the queue
as the refresher reads it. Real Postgres, the real app; no timing is asserted."""

from __future__ import annotations

import asyncio
import json

import pytest

from gridjobs.admission.decide import RETRY_AFTER_UNMEASURED_S, Bounds
from gridjobs.admission.gate import QueueGate
from gridjobs.admission.lanes import Lane
from gridjobs.admission.refresher import QueueRefresher
from gridjobs.metrics import REGISTRY
from gridjobs.store.queries import Q
from tests.support import api_client, running_service

LOAD = {"profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
        "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
RTU = {**LOAD, "profile": "rtu", "unit_id": 2}
OCTETS = {"content-type": "application/octet-stream"}


def shed(priority: int) -> dict:
    return {"kind": "load_shed", "priority": priority, "params": {
        "target_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0}}


def rollout(firmware_id: str) -> dict:
    return {"kind": "firmware_rollout", "params": {"firmware_id": firmware_id,
                                                   "scope": {"device_ids": ["rtu1"]}}}


async def _setup(client) -> str:
    assert (await client.put("/v1/devices/load1", json=LOAD)).status_code == 200
    assert (await client.put("/v1/devices/rtu1", json=RTU)).status_code == 200
    image = await client.post("/v1/firmware", params={"version": "2.0.0", "profile": "rtu"},
                              content=b"\x01" * 1000, headers=OCTETS)
    assert image.status_code == 201, image.text
    return image.json()["id"]


async def _rows(runtime) -> int:
    return await runtime.pool.fetchval("SELECT count(*) FROM operations")


def _refused(lane: str, reason: str) -> float:
    return REGISTRY.get_sample_value("gridjobs_admission_refused_total",
                                     {"lane": lane, "reason": reason}) or 0.0


def _assert_overloaded(r, *needles: str) -> dict:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) >= 1
    body = r.json()
    assert body["status"] == 503 and body["type"].endswith("/overloaded")
    for needle in needles:
        assert needle in json.dumps(body), (needle, body)
    return body


@pytest.fixture
async def bounded(db_url):
    async with running_service(db_url, execute=False, bulk_queue_max=5) as (runtime, client):
        yield runtime, client, await _setup(client)


async def test_a_full_bulk_lane_refuses_rollouts_but_admits_an_emergency_shed(bounded):
    runtime, client, firmware_id = bounded
    for i in range(5):
        r = await client.post("/v1/operations", json=rollout(firmware_id),
                              headers={"Idempotency-Key": f"roll-{i}"})
        assert r.status_code == 202, r.text
    before = _refused("bulk", "queue_full")
    sixth = await client.post("/v1/operations", json=rollout(firmware_id),
                              headers={"Idempotency-Key": "roll-5"})
    body = _assert_overloaded(sixth, "bulk lane", "queue_full")
    assert (body["lane"], body["depth"], body["bound"]) == ("bulk", 5, 5)
    assert int(sixth.headers["Retry-After"]) == RETRY_AFTER_UNMEASURED_S  # nothing drains here
    assert await _rows(runtime) == 5
    assert await runtime.pool.fetchval("SELECT count(*) FROM idempotency_keys") == 5
    assert _refused("bulk", "queue_full") == before + 1

    emergency = await client.post("/v1/operations", json=shed(50))
    assert emergency.status_code == 202, emergency.text
    _assert_overloaded(await client.post("/v1/operations", json=shed(10)), "bulk lane")
    assert await _rows(runtime) == 6


async def test_a_refused_retry_of_an_accepted_submission_gets_its_replay(bounded):
    runtime, client, firmware_id = bounded
    first = await client.post("/v1/operations", json=rollout(firmware_id),
                              headers={"Idempotency-Key": "mine"})
    for _ in range(4):
        assert (await client.post("/v1/operations", json=rollout(firmware_id))).status_code == 202
    again = await client.post("/v1/operations", json=rollout(firmware_id),
                              headers={"Idempotency-Key": "mine"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    dry = await client.post("/v1/operations?dry_run=true", json=rollout(firmware_id))
    assert dry.status_code == 200 and dry.json()["dry_run"] is True  # a dry run writes nothing
    assert await _rows(runtime) == 5


async def test_concurrent_submissions_do_not_overshoot_the_bound(bounded):
    runtime, client, firmware_id = bounded
    answers = await asyncio.gather(*(client.post("/v1/operations", json=rollout(firmware_id))
                                     for _ in range(12)))
    assert sorted(r.status_code for r in answers) == [202] * 5 + [503] * 7
    assert await _rows(runtime) == 5


async def test_the_refresher_reads_depth_and_drain_rate_from_postgres(pool, db_url):
    await pool.execute("""
        INSERT INTO operations (id, kind, status, priority, params, created_at, started_at)
        SELECT gen_random_uuid(), kind, status, priority, '{}', now() - interval '90 s', started
        FROM (VALUES ('firmware_rollout', 'queued', 0, NULL::timestamptz, 8),
                     ('firmware_rollout', 'running', 0, now(), 6),
                     ('load_shed', 'queued', 90, NULL, 2)) AS v(kind, status, priority, started, n),
             generate_series(1, v.n)""")
    gate = QueueGate(bounds=Bounds(grid=100, bulk=5), emergency_priority=50)
    refresher = QueueRefresher(db_url, gate, every_s=3600, window_s=30.0)
    await refresher.start()
    try:
        assert gate.depth(Lane.BULK) == 8 and gate.depth(Lane.GRID) == 2
        assert gate.drain_per_s(Lane.BULK) == pytest.approx(6 / 30)
        decision = gate.check("key_rotation", 0)
        assert not decision.admitted and decision.retry_after_s == 20  # ceil((8 - 5 + 1) / 0.2)
        assert gate.check("load_shed", 90).admitted
        gauge = REGISTRY.get_sample_value
        assert gauge("gridjobs_queue_operations", {"kind": "firmware_rollout", "status": "queued",
                                                   "band": "normal"}) == 8
        assert gauge("gridjobs_queue_operations", {"kind": "load_shed", "status": "queued",
                                                   "band": "emergency"}) == 2
        assert gauge("gridjobs_queue_oldest_queued_seconds", {"lane": "bulk"}) >= 90
        assert gauge("gridjobs_admission_queue_depth", {"lane": "bulk"}) == 8
    finally:
        await refresher.stop()


async def test_a_refresher_that_cannot_read_keeps_going(db_url):
    gate = QueueGate(bounds=Bounds(grid=10, bulk=10), emergency_priority=50)
    refresher = QueueRefresher("postgresql://nobody@127.0.0.1:1/none", gate, every_s=3600,
                               window_s=30.0)
    failures = REGISTRY.get_sample_value("gridjobs_queue_refresh_failures_total")
    await refresher.start()  # no exception: the gate keeps its last depth
    await refresher.stop()
    assert REGISTRY.get_sample_value("gridjobs_queue_refresh_failures_total") == failures + 1
    assert gate.refreshes == 0 and gate.check("firmware_rollout", 0).admitted


async def test_past_max_inflight_requests_get_503_at_once_and_probes_still_answer(db_url):
    async with running_service(db_url, execute=False) as (runtime, plain):
        firmware_id = await _setup(plain)
        async with api_client(runtime, max_inflight=1, grid_inflight_reserve=1) as client:
            release = asyncio.Event()
            held = asyncio.create_task(_held_upload(client, release))
            await _until_held(runtime)
            try:
                before = _refused("unparsed", "inflight")
                get = await client.get("/v1/operations")
                body = _assert_overloaded(get, "inflight")
                assert get.headers["Retry-After"] == "1" and body["retry_after_s"] == 1
                assert _refused("unparsed", "inflight") == before + 1
                for probe in ("/healthz", "/metrics"):
                    assert (await client.get(probe)).status_code == 200
                # The reserve: an emergency shed gets through, bulk work does not.
                assert (await client.post("/v1/operations", json=shed(80))).status_code == 202
                _assert_overloaded(await client.post("/v1/operations", json=rollout(firmware_id)),
                                   "reserve", "grid lane")
                _assert_overloaded(await client.post("/v1/operations", json=shed(0)), "reserve")
                assert await _rows(runtime) == 1
            finally:
                release.set()
                assert (await held).status_code == 201


async def _held_upload(client, release: asyncio.Event):
    async def image():
        yield b"\x02" * 100
        await release.wait()  # the request stays in flight until the test lets go
        yield b"\x03" * 100
    return await client.post("/v1/firmware", params={"version": "3.0.0", "profile": "rtu"},
                             content=image(), headers=OCTETS)


async def _until_held(runtime) -> None:
    async with asyncio.timeout(10):
        while REGISTRY.get_sample_value("gridjobs_http_requests_in_flight") < 1:
            await asyncio.sleep(0.01)


async def test_metrics_show_the_queue_and_the_process(bounded):
    runtime, client, firmware_id = bounded
    assert (await client.post("/v1/operations", json=rollout(firmware_id))).status_code == 202
    text = (await client.get("/metrics")).text
    for name in ("gridjobs_admission_queue_bound{lane=\"bulk\"} 5.0", "gridjobs_operations_running",
                 "process_resident_memory_bytes", "python_info", "gridjobs_queue_refresh_failures_total"):
        assert name in text, name


async def test_api_processes_share_one_reading_of_the_queue(pool, db_url):
    """A second process takes the first one's reading instead of counting the queue
    again; what it admitted since that reading began stays counted in its depth."""
    await pool.execute("""
        INSERT INTO operations (id, kind, status, priority, params)
        SELECT gen_random_uuid(), 'firmware_rollout', 'queued', 0, '{}' FROM generate_series(1, 8)""")
    first_gate, second_gate = (QueueGate(bounds=Bounds(grid=100, bulk=100), emergency_priority=50)
                               for _ in range(2))
    first = QueueRefresher(db_url, first_gate, every_s=3600, window_s=30.0)
    second = QueueRefresher(db_url, second_gate, every_s=3600, window_s=30.0)
    try:
        await first.start()
        taken_at = await pool.fetchval("SELECT taken_at FROM queue_readings")
        await pool.execute("""
            INSERT INTO operations (id, kind, status, priority, params)
            SELECT gen_random_uuid(), 'firmware_rollout', 'queued', 0, '{}' FROM generate_series(1, 2)""")
        second_gate.admitted(Lane.BULK)   # the second process committed these two after the
        second_gate.admitted(Lane.BULK)   # reading began: they are not in it
        await second.start()
        assert (first.shared, second.shared) == (0, 1)
        assert await pool.fetchval("SELECT taken_at FROM queue_readings") == taken_at   # not read again
        assert first_gate.depth(Lane.BULK) == 8 and second_gate.depth(Lane.BULK) == 10
        # Its own next reading counts them from the queue, and no longer on top of it.
        await pool.execute("UPDATE queue_readings SET taken_at = taken_at - interval '2 hours'")
        await second.refresh()
        assert second.shared == 1 and second_gate.depth(Lane.BULK) == 10
        second_gate.admitted(Lane.BULK)   # after the mark of that reading: still counted
        assert second_gate.depth(Lane.BULK) == 11
        # The first process takes that one in turn.
        await first.refresh()
        assert first.shared == 1 and first_gate.depth(Lane.BULK) == 10
        # A reading that began before the one a gate has is not applied.
        await pool.execute("UPDATE queue_readings SET taken_at = taken_at - interval '10 s'")
        refreshes = first_gate.refreshes
        await first.refresh()
        assert first.shared == 2 and first_gate.refreshes == refreshes
    finally:
        await first.stop()
        await second.stop()


async def test_while_one_process_reads_the_queue_the_others_take_the_last_reading(pool, db_url):
    gate = QueueGate(bounds=Bounds(grid=100, bulk=100), emergency_priority=50)
    refresher = QueueRefresher(db_url, gate, every_s=3600, window_s=30.0)
    try:
        await refresher.start()
        await pool.execute("UPDATE queue_readings SET taken_at = taken_at - interval '2 hours'")
        taken_at = await pool.fetchval("SELECT taken_at FROM queue_readings")
        async with pool.acquire() as other, other.transaction():   # another process is reading
            assert await other.fetchval(Q["lock_queue_reading"], "window 30 s")
            await refresher.refresh()
            assert refresher.shared == 1
            assert await pool.fetchval("SELECT taken_at FROM queue_readings") == taken_at
        await refresher.refresh()   # the lock is free: it reads the queue itself
        assert refresher.shared == 1
        assert await pool.fetchval("SELECT taken_at FROM queue_readings") > taken_at
    finally:
        await refresher.stop()
