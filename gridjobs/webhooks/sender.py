"""POSTing one signed event: a bounded wait, no redirects, at most 1 KiB of the answer kept."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

RESPONSE_KEEP_BYTES = 1024
ERROR_KEEP_CHARS = 300


@dataclass(frozen=True)
class Answer:
    status: int | None           # None: no HTTP answer (refused, reset, timed out)
    latency_s: float
    error: str | None
    body: str                    # the first RESPONSE_KEEP_BYTES bytes, as text
    retry_after_s: float | None


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class Sender:
    def __init__(self, *, timeout_s: float, max_connections: int) -> None:
        self.timeout_s = timeout_s
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False,
                                       limits=httpx.Limits(max_connections=max_connections))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(url, body, headers, started)
        except TimeoutError:
            return Answer(None, time.monotonic() - started, f"no answer within {self.timeout_s:g} s", "", None)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_KEEP_CHARS]
            return Answer(None, time.monotonic() - started, error, "", None)

    async def _exchange(self, url: str, body: bytes, headers: dict[str, str], started: float) -> Answer:
        async with self._http.stream("POST", url, content=body, headers=headers) as response:
            kept = bytearray()
            async for piece in response.aiter_raw():
                kept += piece[:RESPONSE_KEEP_BYTES - len(kept)]
                if len(kept) >= RESPONSE_KEEP_BYTES:
                    break
            latency = time.monotonic() - started
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            return Answer(response.status_code, latency, error, kept.decode("utf-8", "replace"),
                          retry_after(response.headers.get("retry-after")))
