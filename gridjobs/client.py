"""A small HTTP client for the CLI and the demo: the REST API is the only way in."""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx

from gridjobs.errors import GridjobsError

DEFAULT_URL = "http://127.0.0.1:8080"
REQUEST_TIMEOUT_S = 30.0
STREAM_READ_TIMEOUT_S = 60.0   # the server sends a comment line every 15 s
FOLLOW_INTERVAL_S = 0.5        # the first pause before reconnecting a stream; doubles up to RECONNECT_MAX_S
RECONNECT_MAX_S = 10.0
MAX_RECONNECTS = 10_000
IMPORT_BATCH = 2000
UPLOAD_PIECE = 256 * 1024
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


NO_TOKEN_HINT = ("; give a token: GRIDJOBS_TOKEN, --token-file, or the admin token that the first "
                 "`gridjobs serve` writes to <data dir>/admin.token (`gridjobs tokens create` makes more)")


class ApiError(GridjobsError):
    """A request the server refused (`status` is its answer) or never answered (502)."""

    title = "API request failed"

    def __init__(self, detail: str, *, status: int = 502) -> None:
        super().__init__(detail)
        self.status = status


class Client:
    def __init__(self, base_url: str = DEFAULT_URL, *, token: str | None = None,
                 ca_file: Path | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=headers,
                                       verify=verify)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unreachable(method, path, exc) from None
        if response.status_code not in ok:
            hint = NO_TOKEN_HINT if response.status_code == 401 else ""
            raise ApiError(f"{method} {path} -> {response.status_code}: {_detail(response)}{hint}",
                           status=response.status_code)
        return response.json()

    def _unreachable(self, method: str, path: str, exc: httpx.HTTPError) -> ApiError:
        """A request that got no answer, worded as advice: which URL, and what to do."""
        if isinstance(exc, httpx.ConnectError):
            if isinstance(_underlying(exc), ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
                # It answered: the TLS handshake failed, which "is it running?" would misstate.
                return ApiError(f"TLS with {self.base_url} failed ({exc}): if the server's certificate is "
                                f"signed by your own CA, pass --ca-file (or GRIDJOBS_CA_FILE)")
            cause, reason = exc.__cause__ or exc.__context__, "connection failed"
            for _ in range(5):   # the OSError under httpx's and httpcore's wrappers, if any
                if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
                    reason = "connection refused"
                    break
                cause = cause.__cause__ or cause.__context__ if cause is not None else None
            return ApiError(f"cannot reach gridjobs at {self.base_url} ({reason}): is it running? "
                            f"Start it with `gridjobs serve`, or point --url (or GRIDJOBS_URL) at it")
        if isinstance(exc, httpx.TimeoutException):
            return ApiError(f"{method} {self.base_url}{path}: no answer in time ({type(exc).__name__}); "
                            f"the server may be overloaded or unreachable")
        return ApiError(f"{method} {self.base_url}{path}: {type(exc).__name__}: {exc}")

    async def operations(self, *, kind: str | None = None, status: str | None = None,
                         feeder: str | None = None, limit: int = 50, max_pages: int = 20) -> list[dict]:
        """Operations, newest first: up to `limit` of them, of `kind` and in `status` (the API
        filters), reaching `feeder` (filtered here, over at most `max_pages` pages)."""
        params = {k: v for k, v in (("kind", kind), ("status", status)) if v}
        items: list[dict] = []
        cursor = None
        for _ in range(max_pages):
            page_params = {**params, "limit": min(max(limit, 1), 500), **({"cursor": cursor} if cursor else {})}
            page = await self.request("GET", "/v1/operations", params=page_params)
            items.extend(op for op in page["items"] if feeder is None or feeder in op.get("feeders", ()))
            cursor = page["next_cursor"]
            if len(items) >= limit or cursor is None or feeder is None:
                break
        return items[:limit]

    async def import_devices(self, path: Path) -> int:
        """Upsert an inventory in batches (each batch is all or nothing)."""
        devices = json.loads(path.read_text())
        upserted = 0
        for start in range(0, len(devices), IMPORT_BATCH):
            body = await self.request("POST", "/v1/devices", json=devices[start:start + IMPORT_BATCH])
            upserted += body["upserted"]
        return upserted

    async def submit(self, body: dict[str, Any], *, key: str | None = None, dry_run: bool = False) -> dict:
        headers = {"Idempotency-Key": key} if key else {}
        params = {"dry_run": "true"} if dry_run else {}
        return await self.request("POST", "/v1/operations", json=body, headers=headers,
                                  params=params, ok=(200,) if dry_run else (202,))

    async def upload_firmware(self, path: Path, *, version: str, profile: str) -> dict:
        """Stream an image file to POST /v1/firmware (201 new, 200 already stored)."""
        async def chunks():
            with path.open("rb") as image:
                while piece := image.read(UPLOAD_PIECE):
                    yield piece
        return await self.request("POST", "/v1/firmware", ok=(200, 201), content=chunks(),
                                  params={"version": version, "profile": profile},
                                  headers={"content-type": "application/octet-stream"})

    async def firmware(self) -> list[dict]:
        return (await self.request("GET", "/v1/firmware", params={"limit": 500}))["items"]

    async def act(self, operation_id: str, action: str) -> dict:
        """POST /v1/operations/{id}/cancel or .../resume."""
        return await self.request("POST", f"/v1/operations/{operation_id}/{action}", ok=(202,))

    async def operation(self, operation_id: str) -> dict:
        return await self.request("GET", f"/v1/operations/{operation_id}")

    async def outcomes(self, operation_id: str, *, limit: int = 500) -> list[dict]:
        items, cursor = [], None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = await self.request("GET", f"/v1/operations/{operation_id}/devices", params=params)
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    async def events(self, path: str, *, after: int | None = None) -> AsyncIterator[StreamEvent]:
        """A Server-Sent Event stream of the API, from after the outbox id `after`."""
        headers = {"Accept": "text/event-stream", **({"Last-Event-ID": str(after)} if after else {})}
        timeout = httpx.Timeout(REQUEST_TIMEOUT_S, read=STREAM_READ_TIMEOUT_S)
        try:
            async with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    hint = NO_TOKEN_HINT if response.status_code == 401 else ""
                    raise ApiError(f"GET {path} -> {response.status_code}: {_detail(response)}{hint}",
                                   status=response.status_code)
                async for event in parse_sse(response.aiter_lines()):
                    yield event
        except httpx.HTTPError as exc:
            raise self._unreachable("GET", path, exc) from None

    async def follow(self, operation_id: str, *, on_update: Callable[[dict], None], timeout_s: float) -> dict:
        """Follow the operation's event stream until it is terminal (bounded by `timeout_s`),
        reconnecting with Last-Event-ID when the stream drops."""
        async with asyncio.timeout(timeout_s):
            op = await self.operation(operation_id)
            on_update(op)
            last, pause = None, FOLLOW_INTERVAL_S
            for _ in range(MAX_RECONNECTS):
                try:
                    async for event in self.events(f"/v1/operations/{operation_id}/events", after=last):
                        last, op, pause = event.id, applied(op, event), FOLLOW_INTERVAL_S
                        on_update(op)
                except ApiError as exc:
                    if 400 <= exc.status < 500:
                        raise
                if op["status"] in TERMINAL:
                    return await self.operation(operation_id)
                await asyncio.sleep(pause)   # the stream ended early or dropped: resume after `last`
                pause = min(pause * 2, RECONNECT_MAX_S)
            raise ApiError(f"gave up following {operation_id} after {MAX_RECONNECTS} reconnects")


@dataclass(frozen=True)
class StreamEvent:
    id: int | None
    type: str
    data: dict


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[StreamEvent]:
    """Server-Sent Events from text lines: fields until a blank line; comments skipped."""
    fields: dict[str, list[str]] = {}
    async for line in lines:
        if line == "":
            if "data" in fields:
                event_id = fields.get("id", [""])[-1]
                yield StreamEvent(int(event_id) if event_id.isdigit() else None,
                                  fields.get("event", ["message"])[-1], json.loads("\n".join(fields["data"])))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


def applied(op: dict, event: StreamEvent) -> dict:
    """The operation as an event leaves it: its status and, when the event has them, its counts."""
    data = event.data.get("data", {})
    changed = dict(op)
    if "status" in data:
        changed["status"] = data["status"]
    if "progress" in data:
        changed["progress"] = data["progress"]
    return changed


def _detail(response: httpx.Response) -> str:
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text[:200]


def _underlying(exc: BaseException) -> BaseException:
    """The innermost cause under httpx's and httpcore's wrappers (at most a few levels)."""
    for _ in range(5):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc
