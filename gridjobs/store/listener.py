"""LISTEN/NOTIFY wake-ups for the dispatcher; polling covers anything missed."""

from __future__ import annotations

import asyncio
from typing import Callable

import asyncpg

from gridjobs.store.database import connect

QUEUED_CHANNEL = "gridjobs_queued"
CANCEL_CHANNEL = "gridjobs_cancel"


class Listener:
    def __init__(self, dsn: str, *, on_queued: Callable[[], None], on_cancel: Callable[[str], None]) -> None:
        self._dsn = dsn
        self._on_queued = on_queued
        self._on_cancel = on_cancel
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._conn = await connect(self._dsn)
        await self._conn.add_listener(QUEUED_CHANNEL, self._queued)
        await self._conn.add_listener(CANCEL_CHANNEL, self._cancel)

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def _queued(self, conn, pid, channel, payload) -> None:
        self._on_queued()

    def _cancel(self, conn, pid, channel, payload) -> None:
        self._on_cancel(payload)

    async def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()
