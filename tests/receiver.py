"""A webhook receiver for tests: a real uvicorn app on loopback that records every
request and checks it with `standardwebhooks.Webhook(secret).verify` for each
secret it is told, answering what the test's plan says."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

START_TIMEOUT_S = 30.0


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    at: float                                  # time.monotonic() on arrival
    verified: dict[str, bool] = field(default_factory=dict)   # secret name → verified

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


# (the arrival, how many arrived before it) → (status, headers)
Plan = Callable[[Arrival, int], Awaitable[tuple[int, dict[str, str]]]]


async def always_ok(arrival: Arrival, index: int) -> tuple[int, dict[str, str]]:
    return 200, {}


class Receiver:
    def __init__(self, plan: Plan = always_ok) -> None:
        self.plan = plan
        self.secrets: dict[str, str] = {}      # name → whsec_…
        self.arrivals: list[Arrival] = []
        self.url = ""

    def verify(self, arrival: Arrival) -> dict[str, bool]:
        found = {}
        for name, secret in self.secrets.items():
            try:
                Webhook(secret).verify(arrival.body, arrival.headers)
                found[name] = True
            except WebhookVerificationError:
                found[name] = False
        return found

    async def _hook(self, request: Request) -> Response:
        arrival = Arrival(dict(request.headers), await request.body(), time.monotonic())
        arrival.verified = self.verify(arrival)
        index = len(self.arrivals)
        self.arrivals.append(arrival)
        status, headers = await self.plan(arrival, index)
        return Response(b'{"ok": true}' if status < 300 else b"no", status_code=status, headers=headers)

    def ids(self) -> list[str]:
        return [a.id for a in self.arrivals]

    def of_type(self, event_type: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.payload["type"] == event_type]


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver._hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if task.done():
                    raise RuntimeError(f"the receiver did not start: {task.exception()!r}")
                await asyncio.sleep(0.02)
        receiver.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/hook"
        yield receiver
    finally:
        server.should_exit = True
        await task
