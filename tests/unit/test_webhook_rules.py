"""The pure parts of webhooks and streams: the retry decision, the URL rule, the
signed headers (checked with the standardwebhooks verifier), the SSE parser and
the bounded stream buffer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gridjobs.client import StreamEvent, applied, parse_sse
from gridjobs.errors import ValidationFailed
from gridjobs.outbox.hub import Subscription
from gridjobs.store.events import Event, EventFilter
from gridjobs.webhooks.retry import RETRY_SCHEDULE_S, decide
from gridjobs.webhooks.secrets import Secret
from gridjobs.webhooks.sender import retry_after
from gridjobs.webhooks.signing import signed_headers
from gridjobs.webhooks.urls import check_url, parse_allow_hosts

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_schedule_is_immediate_then_5s_5min_30min_2h_5h_10h_10h():
    assert RETRY_SCHEDULE_S == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    waits = [decide(status=500, attempt=n, now=NOW).next_attempt_at - NOW for n in range(1, 8)]
    assert [w.total_seconds() for w in waits] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert decide(status=500, attempt=8, now=NOW).state == "failed"   # eight attempts in all


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_only_2xx_delivers(status):
    assert decide(status=status, attempt=1, now=NOW).state == "delivered"


@pytest.mark.parametrize("status", [None, 199, 301, 302, 400, 404, 500, 502])
def test_anything_else_is_retried(status):
    assert decide(status=status, attempt=1, now=NOW).state == "pending"


def test_the_factor_shrinks_the_schedule_and_retry_after_still_holds():
    fast = decide(status=500, attempt=1, now=NOW, factor=0.01)
    assert fast.next_attempt_at - NOW == timedelta(seconds=0.05)
    for status in (429, 503):
        held = decide(status=status, attempt=1, now=NOW, factor=0.01, retry_after_s=2)
        assert held.next_attempt_at - NOW == timedelta(seconds=2)
    ignored = decide(status=500, attempt=1, now=NOW, factor=0.01, retry_after_s=2)
    assert ignored.next_attempt_at - NOW == timedelta(seconds=0.05)
    capped = decide(status=503, attempt=1, now=NOW, retry_after_s=10**9)
    assert capped.next_attempt_at - NOW == timedelta(hours=10)


def test_410_disables_at_once_and_five_failing_days_disable_too():
    assert decide(status=410, attempt=1, now=NOW).disable == "gone"
    tired = decide(status=500, attempt=3, now=NOW, failing_since=NOW - timedelta(days=5))
    assert tired.state == "failed" and tired.disable == "failing"
    assert decide(status=500, attempt=3, now=NOW, failing_since=NOW - timedelta(days=4)).disable is None
    assert decide(status=200, attempt=3, now=NOW, failing_since=NOW - timedelta(days=9)).disable is None


def test_retry_after_takes_seconds_or_an_http_date():
    assert retry_after("2") == 2.0 and retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=NOW) == 30.0


@pytest.mark.parametrize("url", ["https://hooks.example.com/x", "http://127.0.0.1:9000/h", "http://localhost/h",
                                 "http://[::1]:80/h", "http://hooks.internal/h"])
def test_https_loopback_and_allow_listed_urls_pass(url):
    assert check_url(url, allow_hosts=parse_allow_hosts(" Hooks.Internal, other ")) == url


@pytest.mark.parametrize("url,why", [
    ("http://hooks.example.com/x", "https"), ("ftp://127.0.0.1/x", "https"), ("//x/y", "https"),
    ("https://user:pw@x.example/", "credentials"), ("https://x.example/#frag", "fragment"),
    ("http://169.254.169.254/latest", "https"), ("https://169.254.169.254/latest", "link-local"),
    ("https://x.example:99999/", "not a URL"), ("https://x.example/" + "a" * 2048, "2048"),
])
def test_other_urls_are_refused_naming_why(url, why):
    with pytest.raises(ValidationFailed, match=why):
        check_url(url)


def test_both_secrets_sign_during_an_overlap_and_the_signature_verifies():
    old, new = Secret.generate(), Secret.generate()
    body = '{"type":"operation.accepted","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    headers = signed_headers([new, old], event_id=42, body=body)
    assert headers["webhook-id"] == "evt_42" and len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret.shown).verify(body, headers) == {"type": "operation.accepted",
                                                               "timestamp": "2026-01-01T00:00:00Z", "data": {}}
    with pytest.raises(WebhookVerificationError):
        Webhook(Secret.generate().shown).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new.shown).verify(body.replace("{}", '{"x":1}'), headers)
    assert "whsec" not in repr(new) and new.shown.startswith("whsec_")


async def _lines(*lines: str):
    for line in lines:
        yield line


async def test_the_sse_parser_reads_ids_types_and_data_and_skips_comments():
    found = [e async for e in parse_sse(_lines(": ping", "", "id: 7", "event: operation.started",
                                               'data: {"type": "operation.started",', 'data: "data": {}}', "",
                                               "data: {}", ""))]
    assert found == [StreamEvent(7, "operation.started", {"type": "operation.started", "data": {}}),
                     StreamEvent(None, "message", {})]
    op = {"status": "queued", "progress": {"total": 0}}
    moved = applied(op, StreamEvent(8, "operation.progress", {"data": {"status": "running",
                                                                       "progress": {"total": 3}}}))
    assert moved == {"status": "running", "progress": {"total": 3}} and op["status"] == "queued"


def event(n: int, *, feeders=("F1",), type="operation.progress", principal=None) -> Event:
    return Event(n, type, uuid4(), principal, {}, NOW, tuple(feeders))


def test_a_filter_keeps_areas_types_feeders_and_addressed_events():
    where = EventFilter(types=frozenset({"operation.progress", "webhook.disabled"}),
                        area=frozenset({"F1", "F2"}), feeders=frozenset({"F1"}), principal="north")
    assert where.matches(event(1))
    assert not where.matches(event(2, feeders=("F1", "F3")))       # outside the area
    assert not where.matches(event(3, feeders=("F2",)))            # outside the filter
    assert not where.matches(event(4, type="device.failed"))
    assert where.matches(event(5, feeders=(), type="webhook.disabled", principal="north"))
    assert not where.matches(event(6, feeders=(), type="webhook.disabled", principal="south"))


async def test_a_subscription_holds_a_bounded_number_then_ends_after_what_it_held():
    subscription = Subscription(EventFilter(), capacity=3, start=0)
    for n in range(1, 10):
        subscription.offer(event(n))
    assert subscription.overflowed
    taken = [await subscription.next() for _ in range(4)]
    assert [e.id for e in taken[:3]] == [1, 2, 3] and taken[3] is None
    closed = Subscription(EventFilter(), capacity=3, start=0)
    waiter = asyncio.create_task(closed.next())
    await asyncio.sleep(0)
    closed.close()
    assert await waiter is None
