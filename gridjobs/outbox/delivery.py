"""Webhook delivery workers: claim due deliveries, send them signed, record each attempt.

Every `gridjobs serve` runs them. A claim is a lease (the request timeout plus a
margin) fenced by a claim number: should this process die mid-send, the claim
runs out and any process sends the delivery again, with the same webhook-id
(at least once, never lost). At most `concurrency` sends at once, of which
`per_endpoint` to any one endpoint; one operation's events reach an endpoint in
order (the claim takes only the oldest open delivery of each operation).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID

import asyncpg
import structlog

from gridjobs import background
from gridjobs.device_keys.keyring import Keyring
from gridjobs.errors import GridjobsError
from gridjobs.metrics import WEBHOOK_DELIVERIES, WEBHOOK_LATENCY
from gridjobs.outbox.waking import Wake
from gridjobs.store import deliveries
from gridjobs.store.deliveries import AttemptRecord, Claimed
from gridjobs.store.events import iso_z
from gridjobs.store.webhooks import disable_endpoint, signing_secrets
from gridjobs.webhooks.retry import DISABLE_AFTER_S, Verdict, decide
from gridjobs.webhooks.secrets import Secret, unseal_secret
from gridjobs.webhooks.sender import Answer, Sender
from gridjobs.webhooks.signing import signed_headers

CLAIM_MARGIN_S = 5.0
RELEASE_TIMEOUT_S = 5.0

log = structlog.get_logger("gridjobs.outbox")


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_s: float = 15.0
    retry_factor: float = 1.0
    concurrency: int = 32
    per_endpoint: int = 4
    disable_after_s: float = DISABLE_AFTER_S
    poll_s: float = 1.0

    @property
    def claim_s(self) -> float:
        return self.timeout_s + CLAIM_MARGIN_S


def body_of(claimed: Claimed) -> str:
    """The envelope, serialized once: the bytes sent are the bytes signed."""
    envelope = {"type": claimed.event_type, "timestamp": iso_z(claimed.event_at), "data": claimed.data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


class DeliveryWorkers:
    def __init__(self, pool: asyncpg.Pool, keyring: Keyring, config: DeliveryConfig) -> None:
        self._pool, self._keyring, self.config = pool, keyring, config
        self._sender = Sender(timeout_s=config.timeout_s, max_connections=config.concurrency)
        self._sending: dict[asyncio.Task, Claimed] = {}
        self._wake = Wake()
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = background.start(self._run(), name="gridjobs-webhook-deliveries")

    def wake(self) -> None:
        self._wake.set()

    def begin_stop(self) -> None:
        """Claim nothing more; sends in flight finish (or are released by `stop`)."""
        self._stopping = True
        self._wake.set()

    async def stop(self) -> None:
        self.begin_stop()
        if self._task is not None:
            await background.stop(self._task)
        sends = list(self._sending)
        for task in sends:
            task.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
        await self._sender.aclose()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._round()
            except GridjobsError as exc:
                log.warning("webhook_claim_failed", error=str(exc))
            await self._wake.nap(self.config.poll_s)

    async def _round(self) -> None:
        await deliveries.rescue(self._pool)
        free = self.config.concurrency - len(self._sending)
        if free <= 0 or self._stopping:
            return
        claimed = await deliveries.claim(
            self._pool, lease_s=self.config.claim_s, limit=free, per_endpoint=self.config.per_endpoint,
            sending=deliveries.sending_counts([c.endpoint_id for c in self._sending.values()]))
        if not claimed:
            return
        secrets = await self._secrets({c.endpoint_id for c in claimed})
        for c in claimed:
            task = asyncio.create_task(self._send(c, secrets.get(c.endpoint_id, [])),
                                       name=f"gridjobs-webhook-{c.id}")
            self._sending[task] = c
            task.add_done_callback(self._sent)
        if len(claimed) == free:
            self._wake.set()   # there may be more due than there were slots

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.pop(task, None)
        self._wake.set()

    async def _secrets(self, endpoint_ids: set[UUID]) -> dict[UUID, list[Secret]]:
        found: dict[UUID, list[Secret]] = {}
        for endpoint_id, sealed in (await signing_secrets(self._pool, sorted(endpoint_ids))).items():
            try:
                found[endpoint_id] = [unseal_secret(self._keyring.master, s) for s in sealed]
            except GridjobsError as exc:
                log.error("webhook_secret_unusable", webhook_id=str(endpoint_id), error=exc.detail)
        return found

    async def _send(self, claimed: Claimed, secrets: list[Secret]) -> None:
        try:
            answer = await self._post(claimed, secrets)
        except asyncio.CancelledError:
            await self._release(claimed)
            raise
        now = datetime.now(timezone.utc)
        verdict = decide(status=answer.status, attempt=claimed.attempts - claimed.schedule_from, now=now,
                         retry_after_s=answer.retry_after_s, failing_since=claimed.failing_since,
                         factor=self.config.retry_factor, disable_after_s=self.config.disable_after_s)
        await self._settle(claimed, answer, verdict, now)

    async def _post(self, claimed: Claimed, secrets: list[Secret]) -> Answer:
        if not secrets:
            return Answer(None, 0.0, "cannot sign: the endpoint's secret does not unseal", "", None)
        body = body_of(claimed)
        headers = signed_headers(secrets, event_id=claimed.event_id, body=body)
        answer = await self._sender.post(claimed.url, body.encode(), headers)
        WEBHOOK_LATENCY.observe(answer.latency_s)
        return answer

    async def _settle(self, claimed: Claimed, answer: Answer, verdict: Verdict, at: datetime) -> None:
        attempt = AttemptRecord(verdict.state, verdict.next_attempt_at, answer.status,
                                round(answer.latency_s * 1000, 3), answer.error, answer.body or None, at)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                recorded = await deliveries.record(conn, claimed, attempt)
                if recorded and verdict.disable:
                    await disable_endpoint(conn, claimed.endpoint_id, verdict.disable)
        except GridjobsError as exc:   # the claim runs out and the delivery is sent again
            log.warning("webhook_record_failed", delivery_id=claimed.id, error=str(exc))
            return
        outcome = "disabled" if verdict.disable else {"pending": "retry"}.get(verdict.state, verdict.state)
        WEBHOOK_DELIVERIES.labels(outcome).inc()
        log.info("webhook_attempt", delivery_id=claimed.id, webhook_id=str(claimed.endpoint_id),
                 event_id=claimed.event_id, status=answer.status, outcome=outcome, recorded=recorded)

    async def _release(self, claimed: Claimed) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(deliveries.release(self._pool, claimed)),
                                   timeout=RELEASE_TIMEOUT_S)
        except (asyncio.CancelledError, TimeoutError, GridjobsError):
            pass   # the claim runs out by itself
