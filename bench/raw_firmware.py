"""The rollout ceiling: gridjobs' per-device firmware protocol, sent straight through pymodbus.

Per device, the requests that carry gridjobs' firmware steps
(actors/firmware_steps.py), without its prechecks, its resume bookkeeping and
its Postgres round trips:

* declare the image: size and version in one FC16;
* every chunk as one FC16 over the whole chunk window (offset, length, data);
* read back the staged byte count and CRC32 in one FC3, and compare;
* activate (one FC16); the device is silent while it reboots;
* poll version and state (one FC3) until the new version is PENDING_CONFIRM;
* confirm (one FC16), then read the state (one FC3): CONFIRMED.

Addresses, word layouts and the chunk size come from the profile through the
adapters codec, never from this file. One AsyncModbusTcpClient per gateway;
pymodbus runs one request at a time per client, and asyncio.gather runs every
device at once, so the devices behind a gateway take turns request by request,
as they do in gridjobs' gateway sessions.

A poll of a rebooting (silent) device holds up its gateway until it times out,
so reboot polls get a short timeout of their own (POLL_TIMEOUT_S; loopback
answers in milliseconds). Like gridjobs' sessions, the ceiling takes its own
lock per gateway before starting a request's clock, so a timeout measures the
wait for the device and not the queue behind the other units.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from adapters import Point, Profile, decode, encode, load_profile
from adapters.limits import MAX_READ_REGISTERS
from adapters.spans import contiguous_spans
from raw_modbus import RawFault

PROFILE = "rtu"
SIZE, IMAGE_VERSION = "fw_image_size", "fw_image_version"
OFFSET, LENGTH, DATA = "fw_chunk_offset", "fw_chunk_len", "fw_chunk_data"
STAGED, CRC = "fw_staged_bytes", "fw_staged_crc"
VERSION, STATE = "firmware_version", "fw_state"
ACTIVATE, CONFIRM = "fw_activate", "fw_confirm"
POLL_TIMEOUT_S = 0.1        # a reboot poll; a silent device holds its gateway this long
POLL_INTERVAL_S = 0.05      # between two polls of one device
BOOT_DEADLINE_S = 60.0      # per device, activation -> PENDING_CONFIRM seen
CEILING_TIMEOUT_S = 1800.0  # the whole timed part


@dataclass(frozen=True)
class FirmwarePlan:
    """Where each command goes and which registers each read covers, from the profile."""

    profile: Profile
    declare_at: int
    chunk_at: int
    chunk_bytes: int
    status_reads: tuple[tuple[int, int], ...]   # version + state, (address, count) per FC3
    staged_reads: tuple[tuple[int, int], ...]   # staged bytes + CRC
    state_reads: tuple[tuple[int, int], ...]

    @classmethod
    def from_profile(cls, profile: Profile) -> "FirmwarePlan":
        _contiguous(profile, (SIZE, IMAGE_VERSION))
        _contiguous(profile, (OFFSET, LENGTH, DATA))
        data, length = profile.point(DATA), profile.point(LENGTH)
        chunk_bytes = min(2 * data.register_count, int(length.maximum or 2 * data.register_count))
        return cls(profile, profile.point(SIZE).address, profile.point(OFFSET).address, chunk_bytes,
                   _reads(profile, (VERSION, STATE)), _reads(profile, (STAGED, CRC)),
                   _reads(profile, (STATE,)))

    def point(self, role: str) -> Point:
        return self.profile.point(role)

    def declaration(self, size: int, version: str) -> list[int]:
        return [*encode(self.point(SIZE), size), *encode(self.point(IMAGE_VERSION), version)]

    def chunk(self, offset: int, data: bytes) -> list[int]:
        return [*encode(self.point(OFFSET), offset), *encode(self.point(LENGTH), len(data)),
                *encode(self.point(DATA), data)]

    def state_code(self, name: str) -> int:
        return dict(self.point(STATE).symbols)[name]


def _contiguous(profile: Profile, roles: Sequence[str]) -> None:
    points = [profile.point(r) for r in roles]
    if any(a.end != b.address for a, b in zip(points, points[1:])):
        raise ValueError(f"profile {profile.name!r}: {list(roles)} are not one contiguous write")


def _reads(profile: Profile, roles: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """The FC3 requests gridjobs' DeviceClient would make for these roles."""
    spans = contiguous_spans([profile.point(r) for r in roles], max_registers=MAX_READ_REGISTERS,
                             max_gap=profile.read_gap)
    return tuple((s.address, s.count) for s in spans)


class Gateway:
    """One client; requests go out one at a time, in FIFO order, each with its own clock."""

    def __init__(self, host: str, port: int, *, timeout_s: float) -> None:
        self.client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s,
                                           retries=0, reconnect_delay=0)
        self.wire = asyncio.Lock()

    async def call(self, request: Callable[[], Awaitable[Any]], timeout_s: float | None = None) -> Any:
        async with self.wire:
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await request()
            except TimeoutError as exc:
                raise RawFault("device_timeout") from exc
            except ModbusException as exc:
                raise RawFault(type(exc).__name__) from exc
        if reply.isError():
            raise RawFault("modbus_exception")
        return reply


class RawRtu:
    """One unit id behind one gateway; counts what it sends."""

    def __init__(self, gateway: Gateway, unit_id: int, plan: FirmwarePlan) -> None:
        self.gateway, self.unit_id, self.plan = gateway, unit_id, plan
        self.requests = self.chunks = self.bytes_sent = self.polls = 0

    async def write(self, address: int, words: list[int]) -> None:
        self.requests += 1
        await self.gateway.call(lambda: self.gateway.client.write_registers(
            address, words, device_id=self.unit_id))

    async def command(self, role: str) -> None:
        point = self.plan.point(role)
        await self.write(point.address, list(encode(point, 1)))

    async def read(self, runs: tuple[tuple[int, int], ...], roles: Sequence[str],
                   timeout_s: float | None = None) -> dict[str, Any]:
        words: dict[int, int] = {}
        for address, count in runs:
            self.requests += 1
            reply = await self.gateway.call(lambda: self.gateway.client.read_holding_registers(
                address, count=count, device_id=self.unit_id), timeout_s)
            words.update(zip(range(address, address + count), reply.registers))
        points = [self.plan.point(r) for r in roles]
        return {p.role: decode(p, [words[a] for a in range(p.address, p.end)]) for p in points}

    async def send_image(self, image: bytes) -> None:
        step = self.plan.chunk_bytes
        for offset in range(0, len(image), step):
            data = image[offset:offset + step]
            await self.write(self.plan.chunk_at, self.plan.chunk(offset, data))
            self.chunks += 1
            self.bytes_sent += len(data)

    async def await_boot(self, version: str) -> bool:
        """Poll through the reboot until `version` waits for its confirmation."""
        pending, deadline = self.plan.state_code("PENDING_CONFIRM"), time.monotonic() + BOOT_DEADLINE_S
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_INTERVAL_S)
            self.polls += 1
            try:
                seen = await self.read(self.plan.status_reads, (VERSION, STATE), POLL_TIMEOUT_S)
            except RawFault as fault:
                if fault.code != "device_timeout":
                    raise
                continue
            if seen[VERSION] == version and seen[STATE] == pending:
                return True
            if seen[STATE] == self.plan.state_code("ROLLED_BACK"):
                return False
        return False


@dataclass(frozen=True)
class FirmwareCeiling:
    seconds: float            # start -> every device confirmed (or given up)
    transfer_s: float         # start -> every image staged and read back
    requests: int             # Modbus requests sent in the timed part
    chunks: int
    bytes_sent: int           # image bytes in chunk writes
    polls: int                # reboot polls (timed out ones included)
    outcomes: dict[str, int]


async def _update(device: RawRtu, image: bytes, version: str, staged: list[float],
                  started: float) -> str:
    plan, crc = device.plan, zlib.crc32(image)
    try:
        await device.write(plan.declare_at, plan.declaration(len(image), version))
        await device.send_image(image)
        back = await device.read(plan.staged_reads, (STAGED, CRC))
        staged.append(time.perf_counter() - started)
        if (back[STAGED], back[CRC]) != (len(image), crc):
            return "crc_mismatch"
        await device.command(ACTIVATE)
        if not await device.await_boot(version):
            return "not_booted"
        await device.command(CONFIRM)
        state = (await device.read(plan.state_reads, (STATE,)))[STATE]
    except RawFault as fault:
        return f"failed/{fault.code}"
    return "ok" if state == plan.state_code("CONFIRMED") else f"state_{state}"


async def run_ceiling(inventory: Sequence[dict], image: bytes, *, version: str,
                      request_timeout_s: float) -> FirmwareCeiling:
    """Update every device in `inventory` to `image` as `version`; time it."""
    plan = FirmwarePlan.from_profile(load_profile(PROFILE))
    if bad := {d["profile"] for d in inventory} - {PROFILE}:
        raise ValueError(f"the ceiling speaks the {PROFILE!r} profile only, not {sorted(bad)}")
    gateways = {(h, p): Gateway(h, p, timeout_s=request_timeout_s)
                for h, p in sorted({(d["host"], d["port"]) for d in inventory})}
    devices = [RawRtu(gateways[(d["host"], d["port"])], d["unit_id"], plan) for d in inventory]
    staged: list[float] = []
    try:
        async with asyncio.timeout(CEILING_TIMEOUT_S):
            started = time.perf_counter()
            connected = await asyncio.gather(*(g.client.connect() for g in gateways.values()))
            if not all(connected):
                raise RuntimeError("the ceiling could not connect to every gateway")
            done = await asyncio.gather(*(_update(d, image, version, staged, started) for d in devices))
            seconds = time.perf_counter() - started
    finally:
        for gateway in gateways.values():
            gateway.client.close()
    return FirmwareCeiling(seconds, max(staged, default=0.0), sum(d.requests for d in devices),
                           sum(d.chunks for d in devices), sum(d.bytes_sent for d in devices),
                           sum(d.polls for d in devices), dict(Counter(done)))
