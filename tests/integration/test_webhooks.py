"""Webhook endpoints and deliveries against a real receiver on loopback (no Ray:
intake writes operation.accepted, which is enough to deliver).

Retries, Retry-After, 410 Gone, secret rotation, callbacks, areas, and the
refusals that write nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gridjobs.device_keys import ensure_master_key
from tests.receiver import Receiver, receiving
from tests.support import admin_headers, running_service, wait_until

DEVICES = [
    {"id": f"d{i}", "profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": i,
     "feeder": "F1" if i < 3 else "F2", "shed_priority": 1, "protected": False, "rated_kw": 10.0}
    for i in range(1, 5)
]
FAST = dict(execute=False, webhook_retry_factor=0.01, events_poll_s=0.1)


def shed(feeders=("F1",), **extra) -> dict:
    return {"kind": "load_shed",
            "params": {"target_kw": 5, "scope": {"feeders": list(feeders)}, "hold_s": 0}, **extra}


@pytest.fixture
def master_key(tmp_path):
    return ensure_master_key(tmp_path / "master.key").path


@pytest.fixture
async def service(db_url, master_key):
    async with running_service(db_url, master_key_file=master_key, **FAST) as (runtime, client):
        assert (await client.post("/v1/devices", json=DEVICES)).status_code == 200
        yield runtime, client


async def register(client, receiver: Receiver, types=("operation.accepted",), **extra) -> dict:
    r = await client.post("/v1/webhooks", json={"url": receiver.url, "event_types": list(types), **extra})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    receiver.secrets["current"] = created["secret"]
    return created


async def submit(client, body=None) -> str:
    r = await client.post("/v1/operations", json=body or shed())
    assert r.status_code == 202, r.text
    return r.json()["id"]


async def arrivals(receiver: Receiver, n: int, timeout_s: float = 30) -> None:
    async def enough():
        return len(receiver.arrivals) >= n
    await wait_until(enough, timeout_s=timeout_s, interval_s=0.05)


async def deliveries(client, webhook_id: str) -> list[dict]:
    r = await client.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_500_twice_then_200_arrives_three_times_with_one_webhook_id(service):
    _, client = service

    async def plan(arrival, index):
        return (500, {}) if index < 2 else (200, {})

    async with receiving(Receiver(plan)) as receiver:
        hook = await register(client, receiver)
        op_id = await submit(client)
        await arrivals(receiver, 3)

        async def settled():
            return (await deliveries(client, hook["id"]))[0]["state"] == "delivered"
        await wait_until(settled, timeout_s=30)
    assert len(set(receiver.ids())) == 1 and len(receiver.arrivals) == 3
    assert all(a.verified == {"current": True} for a in receiver.arrivals)
    payload = receiver.arrivals[0].payload
    assert payload["type"] == "operation.accepted" and payload["data"]["operation_id"] == op_id
    assert set(payload) == {"type", "timestamp", "data"}
    [delivery] = await deliveries(client, hook["id"])
    assert receiver.ids()[0] == f"evt_{delivery['event_id']}"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
    assert delivery["attempts"][0]["error"] == "HTTP 500" and delivery["attempts"][2]["error"] is None


async def test_retry_after_on_503_is_honoured(service):
    runtime, client = service

    async def plan(arrival, index):
        return (503, {"Retry-After": "2"}) if index == 0 else (200, {})

    async with receiving(Receiver(plan)) as receiver:
        hook = await register(client, receiver)
        await submit(client)
        await arrivals(receiver, 2)
    first, second = receiver.arrivals
    assert first.id == second.id
    assert second.at - first.at >= 2.0   # a lower bound: the schedule alone (5 s × 0.01) says 0.05 s
    [delivery] = await deliveries(client, hook["id"])
    attempt = await runtime.pool.fetchrow(
        "SELECT at, next_attempt_at FROM webhook_attempts WHERE delivery_id = $1 AND attempt = 1",
        delivery["id"])
    assert attempt["next_attempt_at"] - attempt["at"] >= timedelta(seconds=2)


async def test_410_gone_disables_the_endpoint_at_once(service):
    runtime, client = service

    async def plan(arrival, index):
        return 410, {}

    async with receiving(Receiver(plan)) as receiver:
        hook = await register(client, receiver)
        await submit(client)
        await arrivals(receiver, 1)

        async def disabled():
            return (await client.get(f"/v1/webhooks/{hook['id']}")).json()["status"] == "disabled"
        await wait_until(disabled, timeout_s=30)
        await submit(client)   # nothing more is sent to it
        await asyncio.sleep(0.5)
    endpoint = (await client.get(f"/v1/webhooks/{hook['id']}")).json()
    assert endpoint["disabled_reason"] == "gone" and len(receiver.arrivals) == 1
    said = await runtime.pool.fetch("SELECT data FROM events WHERE type = 'webhook.disabled'")
    assert [e["data"] for e in said] == [{"webhook_id": hook["id"], "reason": "gone"}]
    [delivery] = await deliveries(client, hook["id"])
    assert delivery["state"] == "failed"
    retried = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 409


async def test_during_the_overlap_old_and_new_secret_both_verify(service):
    runtime, client = service
    async with receiving(Receiver()) as receiver:
        hook = await register(client, receiver)
        old = receiver.secrets.pop("current")
        rotated = await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")
        assert rotated.status_code == 200 and rotated.json()["secret"] != old
        receiver.secrets = {"old only": old, "new only": rotated.json()["secret"]}
        await submit(client)
        await arrivals(receiver, 1)
        assert receiver.arrivals[0].verified == {"old only": True, "new only": True}
        assert len(receiver.arrivals[0].headers["webhook-signature"].split(" ")) == 2
        # after the overlap only the new secret signs
        await runtime.pool.execute("UPDATE webhook_secrets SET expires_at = now() - interval '1 s' "
                                   "WHERE expires_at IS NOT NULL")
        await submit(client)
        await arrivals(receiver, 2)
    assert receiver.arrivals[1].verified == {"old only": False, "new only": True}


async def test_manual_retry_sends_the_event_again_with_its_webhook_id(service):
    _, client = service
    async with receiving(Receiver()) as receiver:
        hook = await register(client, receiver)
        await submit(client)
        await arrivals(receiver, 1)

        async def delivered():
            return (await deliveries(client, hook["id"]))[0]["state"] == "delivered"
        await wait_until(delivered)
        [delivery] = await deliveries(client, hook["id"])
        r = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry")
        assert r.status_code == 202
        await arrivals(receiver, 2)
    assert receiver.ids()[0] == receiver.ids()[1]
    unknown = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/999999/retry")
    assert unknown.status_code == 404


async def counts(pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("webhook_endpoints", "webhook_secrets", "operations", "events")}


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "ftp://127.0.0.1/x", "https://u:p@h.example/x",
                                 "http://169.254.169.254/latest", "not a url"])
async def test_a_url_that_is_not_https_loopback_or_allowed_is_refused(service, url):
    runtime, client = service
    before = await counts(runtime.pool)
    r = await client.post("/v1/webhooks", json={"url": url, "event_types": ["operation.accepted"]})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await counts(runtime.pool) == before


async def test_an_allow_listed_host_may_take_plain_http(db_url, master_key):
    async with running_service(db_url, master_key_file=master_key, webhook_allow_hosts="hooks.internal",
                               **{**FAST, "webhook_concurrency": 0}) as (_, client):   # nothing is sent
        ok = await client.post("/v1/webhooks", json={"url": "http://hooks.internal/x",
                                                     "event_types": ["operation.accepted"]})
        assert ok.status_code == 201, ok.text
        https = await client.post("/v1/webhooks", json={"url": "https://anywhere.example/x",
                                                        "event_types": ["operation.accepted"]})
        assert https.status_code == 201


async def test_a_callback_to_an_unknown_or_foreign_endpoint_writes_nothing(service):
    runtime, client = service
    other = await admin_headers(runtime.pool, name="other")
    theirs = await client.post("/v1/webhooks", headers=other,   # (refused submissions send nothing)
                               json={"url": "https://127.0.0.1:9/h", "event_types": ["operation.accepted"]})
    assert theirs.status_code == 201
    before = await counts(runtime.pool)
    unknown = await client.post("/v1/operations",
                                json=shed(callback={"webhook_id": "00000000-0000-4000-8000-000000000000"}))
    assert unknown.status_code == 422, unknown.text
    foreign = await client.post("/v1/operations", json=shed(callback={"webhook_id": theirs.json()["id"]}))
    assert foreign.status_code == 403, foreign.text
    malformed = await client.post("/v1/operations", json=shed(callback={"url": "https://evil.example"}))
    assert malformed.status_code == 422
    assert await counts(runtime.pool) == before
    assert (await client.get(f"/v1/webhooks/{theirs.json()['id']}")).status_code == 404  # not ours


async def test_a_callback_gets_every_event_of_its_operation_whatever_its_filter(service):
    _, client = service
    async with receiving(Receiver()) as receiver:
        hook = await register(client, receiver, types=("device.failed",), feeders=["F2"])
        op_id = await submit(client, shed(("F1",), callback={"webhook_id": hook["id"]}))
        assert (await client.get(f"/v1/operations/{op_id}")).json()["callback"] == {"webhook_id": hook["id"]}
        await submit(client)   # the same kind of operation without the callback: filtered out
        await arrivals(receiver, 1)
        await asyncio.sleep(0.5)
    assert [(a.payload["type"], a.payload["data"]["operation_id"]) for a in receiver.arrivals] == \
        [("operation.accepted", op_id)]


async def test_an_endpoint_gets_only_operations_within_its_owners_area(service):
    runtime, client = service
    f1_only = await admin_headers(runtime.pool, name="north", roles=["viewer"], feeders=["F1"])
    async with receiving(Receiver()) as receiver:
        outside = await client.post("/v1/webhooks", headers=f1_only,
                                    json={"url": receiver.url, "event_types": ["operation.accepted"],
                                          "feeders": ["F2"]})
        assert outside.status_code == 403
        r = await client.post("/v1/webhooks", headers=f1_only,
                              json={"url": receiver.url, "event_types": ["operation.accepted"]})
        assert r.status_code == 201 and r.json()["feeders"] == ["F1"]
        in_area = await submit(client, shed(("F1",)))
        await submit(client, shed(("F2",)))
        await submit(client, shed(("F1", "F2")))
        await arrivals(receiver, 1)
        await asyncio.sleep(0.5)
    assert [a.payload["data"]["operation_id"] for a in receiver.arrivals] == [in_area]
    listed = (await client.get("/v1/webhooks", headers=f1_only)).json()["items"]
    assert [w["id"] for w in listed] == [r.json()["id"]]


async def test_webhooks_need_a_master_key(db_url):
    async with running_service(db_url, **FAST) as (_, client):
        r = await client.post("/v1/webhooks", json={"url": "https://127.0.0.1:9/h",
                                                    "event_types": ["operation.accepted"]})
        assert r.status_code == 503 and "master key" in r.json()["detail"]


async def test_a_webhook_secret_is_shown_once_and_stays_out_of_logs_answers_and_rows(db_url, master_key):
    import base64
    import io
    import json

    from gridjobs import logs
    from tests.secrets_scan import assert_no_secret

    stream, texts = io.StringIO(), []
    logs.configure(stream=stream, level="debug")
    try:
        async with running_service(db_url, master_key_file=master_key, **FAST) as (runtime, client):
            assert (await client.post("/v1/devices", json=DEVICES)).status_code == 200
            async with receiving(Receiver()) as receiver:
                hook = await register(client, receiver)
                rotated = (await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret")).json()
                await submit(client)
                await arrivals(receiver, 1)
            for path in ("/v1/webhooks", f"/v1/webhooks/{hook['id']}", f"/v1/webhooks/{hook['id']}/deliveries",
                         "/metrics"):
                answer = await client.get(path)
                texts += [answer.text, json.dumps(dict(answer.headers))]
            for table in ("webhook_endpoints", "webhook_secrets", "webhook_deliveries", "webhook_attempts",
                          "events", "request_audit"):
                texts += [repr(r) for r in await runtime.pool.fetch(f"SELECT * FROM {table}")]
    finally:
        logs.configure()
    texts.append(stream.getvalue())
    assert "webhook_attempt" in texts[-1]   # the log was captured
    secrets = [base64.b64decode(s.removeprefix("whsec_")) for s in (hook["secret"], rotated["secret"])]
    assert_no_secret(texts, secrets + [s.encode() for s in (hook["secret"], rotated["secret"])])
    assert all(a.verified == {"current": True} for a in receiver.arrivals)


async def test_revoking_a_token_disables_its_endpoints(service):
    runtime, client = service
    north = await admin_headers(runtime.pool, name="north", roles=["viewer"], feeders=["F1"])
    created = await client.post("/v1/webhooks", headers=north,
                                json={"url": "https://127.0.0.1:9/h", "event_types": ["operation.accepted"]})
    assert created.status_code == 201
    assert (await client.delete("/v1/tokens/north")).status_code == 204
    row = await runtime.pool.fetchrow("SELECT status, disabled_reason FROM webhook_endpoints WHERE id = $1",
                                      __import__("uuid").UUID(created.json()["id"]))
    assert tuple(row) == ("disabled", "principal_revoked")
    said = await runtime.pool.fetch("SELECT principal, data FROM events WHERE type = 'webhook.disabled'")
    assert [(e["principal"], e["data"]["reason"]) for e in said] == [("north", "principal_revoked")]
