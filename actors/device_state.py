"""Shard device state persisted in Postgres, so a restarted shard rebuilds it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import asyncpg

from actors.named_sql import load_named_queries
from actors.tasks import DeviceState

Q = load_named_queries(Path(__file__).parent / "sql" / "device_state.sql")
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 10.0


class DeviceStateStore:
    """Lazily connected; a shard without a DSN keeps state in memory only."""

    def __init__(self, dsn: str | None) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def _get_pool(self) -> asyncpg.Pool | None:
        if self._dsn and self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=2,
                timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S,
            )
        return self._pool

    async def load(self, device_ids: list[str]) -> dict[str, DeviceState]:
        pool = await self._get_pool()
        if pool is None or not device_ids:
            return {}
        rows = await pool.fetch(Q["load_device_state"], device_ids)
        return {
            r["device_id"]: DeviceState(r["holder"], r["holder_until"], r["setpoint_pct"], r["last_kw"])
            for r in rows
        }

    async def save(self, items: Iterable[tuple[str, DeviceState]]) -> None:
        pool = await self._get_pool()
        rows = [(d, s.holder, s.holder_until, s.setpoint_pct, s.last_kw) for d, s in items]
        if pool is not None and rows:  # one statement for the whole batch
            await pool.execute(Q["save_device_state"], *(list(column) for column in zip(*rows)))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
