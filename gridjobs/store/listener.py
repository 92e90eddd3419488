"""LISTEN/NOTIFY wake-ups for the dispatcher; polling covers anything missed."""

from __future__ import annotations

import asyncio
from typing import Callable

import asyncpg

from gridjobs.errors import StoreError
from gridjobs.store.database import DRIVER_ERRORS, connect

QUEUED_CHANNEL = "gridjobs_queued"
CANCEL_CHANNEL = "gridjobs_cancel"
RESUME_CHANNEL = "gridjobs_resume"


class Listener:
    def __init__(self, dsn: str, *, on_queued: Callable[[], None], on_cancel: Callable[[str], None],
                 on_resume: Callable[[str], None]) -> None:
        self._dsn = dsn
        self._on_queued = on_queued
        self._on_cancel = on_cancel
        self._on_resume = on_resume
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        """(Re)connect and LISTEN; raises StoreError when the database is unreachable."""
        await self.stop()
        conn = await connect(self._dsn)
        try:
            await conn.add_listener(QUEUED_CHANNEL, self._queued)
            await conn.add_listener(CANCEL_CHANNEL, self._cancel)
            await conn.add_listener(RESUME_CHANNEL, self._resume)
        except DRIVER_ERRORS as exc:
            conn.terminate()
            raise StoreError(f"cannot LISTEN: {exc}") from exc
        self._conn = conn
        self._on_queued()  # anything queued while we were not listening

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def _queued(self, conn, pid, channel, payload) -> None:
        self._on_queued()

    def _cancel(self, conn, pid, channel, payload) -> None:
        self._on_cancel(payload)

    def _resume(self, conn, pid, channel, payload) -> None:
        self._on_resume(payload)

    async def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except (TimeoutError, *DRIVER_ERRORS):
                conn.terminate()
