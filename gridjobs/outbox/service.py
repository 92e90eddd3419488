"""The outbox of one process: its LISTEN connection, the stream hub, the relay,
the delivery workers (when a master key can open the secrets) and the janitor.
The runtime opens it and closes it; `begin_stop` ends the streams and stops
claiming deliveries at once."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

import asyncpg
import structlog

from gridjobs import background
from gridjobs.config import Settings
from gridjobs.device_keys.keyring import Keyring
from gridjobs.errors import GridjobsError
from gridjobs.outbox.delivery import DeliveryConfig, DeliveryWorkers
from gridjobs.outbox.hub import EventHub
from gridjobs.outbox.janitor import Janitor
from gridjobs.outbox.relay import Relay
from gridjobs.store.events import DELIVERIES_CHANNEL, EVENTS_CHANNEL
from gridjobs.store.listener import Listener

KEEP_EVERY_S = 5.0   # re-LISTEN if the connection dropped

log = structlog.get_logger("gridjobs.outbox")


def delivery_config(settings: Settings) -> DeliveryConfig:
    return DeliveryConfig(timeout_s=settings.webhook_timeout_s, retry_factor=settings.webhook_retry_factor,
                          concurrency=settings.webhook_concurrency, per_endpoint=settings.webhook_per_endpoint,
                          disable_after_s=settings.webhook_disable_after_s, poll_s=settings.events_poll_s)


@dataclass
class Outbox:
    hub: EventHub
    relay: Relay
    workers: DeliveryWorkers | None
    janitor: Janitor
    listener: Listener

    def begin_stop(self) -> None:
        self.hub.close()
        if self.workers is not None:
            self.workers.begin_stop()

    async def keep_listening(self) -> None:
        while True:
            await asyncio.sleep(KEEP_EVERY_S)
            if not self.listener.alive:
                await _listen(self.listener)


async def _listen(listener: Listener) -> None:
    try:
        await listener.start()
    except GridjobsError as exc:
        log.warning("events_listen_unavailable", error=str(exc), fallback="polling")


def _build(settings: Settings, pool: asyncpg.Pool, keyring: Keyring | None) -> Outbox:
    hub = EventHub(pool, poll_s=settings.events_poll_s)
    relay = Relay(pool, poll_s=settings.events_poll_s)
    sends = keyring is not None and settings.webhook_concurrency > 0   # 0: this process sends none
    workers = DeliveryWorkers(pool, keyring, delivery_config(settings)) if sends else None

    def deliveries_due(_payload: str) -> None:
        if workers is not None:
            workers.wake()

    def events_written(_payload: str) -> None:
        hub.wake()
        relay.wake()

    def reconnected() -> None:   # anything may have been missed
        events_written("")
        deliveries_due("")

    listener = Listener(settings.database_url, on_connect=reconnected,
                        channels={EVENTS_CHANNEL: events_written, DELIVERIES_CHANNEL: deliveries_due})
    return Outbox(hub, relay, workers, Janitor(pool, retention_s=settings.event_retention_s), listener)


@asynccontextmanager
async def open_outbox(settings: Settings, pool: asyncpg.Pool, keyring: Keyring | None) -> AsyncIterator[Outbox]:
    outbox = _build(settings, pool, keyring)
    if keyring is None:
        log.warning("webhook_delivery_off", reason="no master key: webhook secrets cannot be opened")
    elif outbox.workers is None:
        log.info("webhook_delivery_off", reason="webhook_concurrency is 0")
    keeper = None
    try:
        await outbox.hub.start()
        await outbox.relay.start()
        if outbox.workers is not None:
            await outbox.workers.start()
        outbox.janitor.start()
        await _listen(outbox.listener)
        keeper = background.start(outbox.keep_listening(), name="gridjobs-outbox-listen")
        yield outbox
    finally:
        if keeper is not None:
            await background.stop(keeper)
        await outbox.listener.stop()
        if outbox.workers is not None:
            await outbox.workers.stop()
        await outbox.janitor.stop()
        await outbox.relay.stop()
        await outbox.hub.stop()
