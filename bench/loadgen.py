"""A small HTTP/1.1 load generator on raw asyncio streams: closed loop and paced open loop.

httpx costs more CPU per request than the server it would measure here (2
cores, shared). This one writes prepared request bytes on keep-alive
connections and reads the status line, headers and a Content-Length body,
nothing more. Every request is bounded by REQUEST_TIMEOUT_S; every loop by
its deadline. Loopback only: the caller passes 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

HEADER_END = b"\r\n\r\n"
REQUEST_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0

Pick = Callable[[], tuple[str, bytes]]   # (kind, prepared request bytes)


def post(path: str, body: bytes, *, host: str) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive connection, opened on first use and again after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, request: bytes) -> Answer:
        if self._streams is None:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        head = (await reader.readuntil(HEADER_END)).decode("latin-1").split("\r\n")
        headers = dict(_header(line) for line in head[1:] if ":" in line)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(int(head[0].split(" ", 2)[1]), headers, body)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _header(line: str) -> tuple[str, str]:
    name, value = line.split(":", 1)
    return name.strip().lower(), value.strip()


@dataclass
class Tally:
    """What a load got back: per kind and status, latencies, 503 reasons, accepted ids."""

    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    accepted_latencies_s: list[float] = field(default_factory=list)   # of the 202s alone
    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)   # (kind, status)
    reasons: Counter[str] = field(default_factory=Counter)               # of the 503s
    retry_after_s: list[int] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def count(self, status: str) -> int:
        return sum(n for (_, s), n in self.statuses.items() if s == status)

    def record(self, kind: str, answer: Answer, seconds: float) -> None:
        self.latencies_s.append(seconds)
        self.statuses[kind, str(answer.status)] += 1
        if answer.status == 202:
            self.accepted_ids.append(json.loads(answer.body)["id"])
            self.accepted_latencies_s.append(seconds)
        elif answer.status in (429, 503):
            self.reasons[json.loads(answer.body).get("reason", "other")] += 1
            self.retry_after_s.append(int(answer.headers.get("retry-after", "0")))


async def closed_loop(host: str, port: int, pick: Pick, *, connections: int,
                      seconds: float) -> Tally:
    """Each connection sends its next request as soon as the last one is answered."""
    return await _load(host, port, pick, connections=connections, seconds=seconds, rate=None)


async def open_loop(host: str, port: int, pick: Pick, *, rate: float, connections: int,
                    seconds: float) -> Tally:
    """`rate` requests/s in all, spread evenly over `connections`, each on its own schedule.

    A connection whose answer comes later than its next slot sends at once,
    without catching up on the slots it missed: the offered rate reported is
    what was sent.
    """
    return await _load(host, port, pick, connections=connections, seconds=seconds, rate=rate)


async def _load(host: str, port: int, pick: Pick, *, connections: int, seconds: float,
                rate: float | None) -> Tally:
    tally = Tally()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + seconds
    interval = connections / rate if rate else None
    workers = [_worker(Connection(host, port), pick, tally, deadline, interval,
                       first_at=started + (i / rate if rate else 0.0))
               for i in range(connections)]
    async with asyncio.timeout(seconds + REQUEST_TIMEOUT_S + CONNECT_TIMEOUT_S):
        await asyncio.gather(*workers)
    tally.seconds = loop.time() - started
    return tally


async def _worker(conn: Connection, pick: Pick, tally: Tally, deadline: float,
                  interval: float | None, *, first_at: float) -> None:
    loop = asyncio.get_running_loop()
    next_at = first_at
    try:
        while loop.time() < deadline:
            if interval is not None:
                if next_at > loop.time():
                    await asyncio.sleep(next_at - loop.time())
                    if loop.time() >= deadline:
                        return
                next_at = max(next_at, loop.time()) + interval
            await _one(conn, pick, tally)
    finally:
        conn.close()


async def _one(conn: Connection, pick: Pick, tally: Tally) -> None:
    kind, request = pick()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            answer = await conn.send(request)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        conn.close()
        tally.latencies_s.append(time.perf_counter() - started)
        tally.statuses[kind, type(exc).__name__] += 1
        return
    tally.record(kind, answer, time.perf_counter() - started)
