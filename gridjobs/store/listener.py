"""LISTEN/NOTIFY on one dedicated connection: each channel's payload goes to its handler.

Whoever owns a Listener keeps it alive (`alive`, `start` again) and treats
`on_connect` as "anything may have been missed": the dispatcher polls, the
token cache forgets everything.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Mapping

import asyncpg

from gridjobs.errors import StoreError
from gridjobs.store.database import DRIVER_ERRORS, connect

QUEUED_CHANNEL = "gridjobs_queued"
CANCEL_CHANNEL = "gridjobs_cancel"
RESUME_CHANNEL = "gridjobs_resume"


class Listener:
    def __init__(self, dsn: str, *, channels: Mapping[str, Callable[[str], None]],
                 on_connect: Callable[[], None] = lambda: None) -> None:
        self._dsn = dsn
        self._channels = dict(channels)
        self._on_connect = on_connect
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        """(Re)connect and LISTEN; raises StoreError when the database is unreachable."""
        await self.stop()
        conn = await connect(self._dsn)
        try:
            for channel in self._channels:
                await conn.add_listener(channel, self._notified)
        except DRIVER_ERRORS as exc:
            conn.terminate()
            raise StoreError(f"cannot LISTEN: {exc}") from exc
        self._conn = conn
        self._on_connect()  # anything sent while we were not listening

    def _notified(self, conn, pid, channel: str, payload: str) -> None:
        self._channels[channel](payload)

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), timeout=5)
            except (TimeoutError, *DRIVER_ERRORS):
                conn.terminate()
