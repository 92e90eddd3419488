"""The shed ceiling: gridjobs' per-device Modbus requests, sent straight through pymodbus.

Per device, as gridjobs' `survey` and `curtail` steps do it (actors/steps.py):
read the points the load-shed survey reads (one FC3 per contiguous run of
registers), then write setpoint and revert timer in one FC16, then read the
setpoint and measured power back (two FC3 for controllable_load, whose points
are not contiguous). Addresses come from the profile, never from this file.

One AsyncModbusTcpClient per gateway; pymodbus sends one request at a time
per client, and asyncio.gather runs every device at once. As in gridjobs,
every device is surveyed before any is curtailed, and only devices whose
survey succeeded are curtailed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from adapters import Point, Profile, decode, encode, load_profile
from gridjobs.load_shed.strategy import LoadShedStrategy


SETPOINT, TIMER, MEASURED = "curtail_setpoint_pct", "revert_timeout_s", "measured_kw"
SHED_PCT = 0
NORMAL_PCT = 100
# What gridjobs reads: the load-shed survey's roles (taken from gridjobs
# itself, so the two sides cannot drift apart), and the read-back after a
# command (actors/steps.py `_verify`: setpoint and measured power).
SURVEY_ROLES = tuple(LoadShedStrategy.survey_roles)
VERIFY_ROLES = (SETPOINT, MEASURED)


class RawFault(Exception):
    """One device request failed; `code` says how."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RegisterPlan:
    """Which registers the survey reads and where the setpoint-and-timer write goes."""

    setpoint: Point
    timer: Point
    measured: Point
    survey_reads: tuple[tuple[int, int], ...]   # (address, count), one FC3 each
    verify_reads: tuple[tuple[int, int], ...]

    @classmethod
    def from_profile(cls, profile: Profile, survey_roles: Sequence[str] = SURVEY_ROLES) -> "RegisterPlan":
        setpoint, timer, measured = (profile.point(r) for r in (SETPOINT, TIMER, MEASURED))
        if timer.address != setpoint.end:
            raise ValueError(f"profile {profile.name!r}: the timer does not follow the setpoint")
        gap = profile.read_gap  # read the same register spans the adapter reads
        return cls(setpoint, timer, measured, _runs([profile.point(r) for r in survey_roles], gap),
                   _runs([profile.point(r) for r in VERIFY_ROLES], gap))

    def command(self, setpoint_pct: int, timer_s: int) -> list[int]:
        return [*encode(self.setpoint, setpoint_pct), *encode(self.timer, timer_s)]


def _runs(points: Sequence[Point], max_gap: int = 0) -> tuple[tuple[int, int], ...]:
    """Register runs covering `points` (gaps up to `max_gap` read through): (address, count)."""
    runs: list[list[int]] = []
    for point in sorted(points, key=lambda p: p.address):
        if runs and point.address - (runs[-1][0] + runs[-1][1]) <= max_gap:
            runs[-1][1] = point.address + point.register_count - runs[-1][0]
        else:
            runs.append([point.address, point.register_count])
    return tuple((address, count) for address, count in runs)


@dataclass(frozen=True)
class CeilingResult:
    seconds: float
    survey_s: float           # when every survey read had come back, seconds after the start
    requests: int             # Modbus requests sent in the timed part
    outcomes: dict[str, int]
    not_restored_before: int  # devices whose survey found a setpoint other than 100 %
    restore_outcomes: dict[str, int]


class RawDevice:
    """One unit id behind one gateway client."""

    def __init__(self, client: AsyncModbusTcpClient, unit_id: int, plan: RegisterPlan) -> None:
        self.client, self.unit_id, self.plan = client, unit_id, plan
        self.sent = 0

    async def read(self, runs: tuple[tuple[int, int], ...]) -> dict[str, float]:
        """One FC3 per run; decode every point read, as gridjobs' DeviceClient does."""
        words: dict[int, int] = {}
        for address, count in runs:
            reply = await self._call(self.client.read_holding_registers(
                address, count=count, device_id=self.unit_id))
            words.update(zip(range(address, address + count), reply.registers))
        return {p.role: decode(p, [words[a] for a in range(p.address, p.end)])
                for p in (self.plan.setpoint, self.plan.measured) if p.address in words}

    async def command(self, setpoint_pct: int, timer_s: int) -> None:
        await self._call(self.client.write_registers(
            self.plan.setpoint.address, self.plan.command(setpoint_pct, timer_s),
            device_id=self.unit_id))

    async def _call(self, request: Any) -> Any:
        self.sent += 1
        try:
            reply = await request
        except ModbusException as exc:
            raise RawFault(type(exc).__name__) from exc
        if reply.isError():
            raise RawFault("modbus_exception")
        return reply


async def _survey(device: RawDevice) -> str:
    try:
        values = await device.read(device.plan.survey_reads)
    except RawFault as fault:
        return f"survey_failed/{fault.code}"
    return "ok" if values.get(SETPOINT, NORMAL_PCT) == NORMAL_PCT else "ok_not_restored"


async def _set(device: RawDevice, setpoint_pct: int, timer_s: int) -> str:
    try:
        await device.command(setpoint_pct, timer_s)
        values = await device.read(device.plan.verify_reads)
    except RawFault as fault:
        return f"failed/{fault.code}"
    return "ok" if values[SETPOINT] == setpoint_pct else "verify_mismatch"


async def run_ceiling(inventory: Sequence[dict], *, request_timeout_s: float, revert_timeout_s: int,
                      survey_roles: Sequence[str] = SURVEY_ROLES) -> CeilingResult:
    """Survey, curtail and read back every device in `inventory`; time it; restore untimed."""
    plans = {name: RegisterPlan.from_profile(load_profile(name), survey_roles)
             for name in {d["profile"] for d in inventory}}
    gateways = sorted({(d["host"], d["port"]) for d in inventory})
    clients = {
        (host, port): AsyncModbusTcpClient(host, port=port, timeout=request_timeout_s,
                                           retries=0, reconnect_delay=0)
        for host, port in gateways
    }
    devices = [RawDevice(clients[(d["host"], d["port"])], d["unit_id"], plans[d["profile"]])
               for d in inventory]
    try:
        started = time.perf_counter()
        await asyncio.gather(*(c.connect() for c in clients.values()))
        surveyed = await asyncio.gather(*(_survey(d) for d in devices))
        survey_s = time.perf_counter() - started
        reachable = [d for d, s in zip(devices, surveyed) if s.startswith("ok")]
        curtailed = await asyncio.gather(*(_set(d, SHED_PCT, revert_timeout_s) for d in reachable))
        seconds = time.perf_counter() - started
        sent = sum(d.sent for d in devices)
        restored = await asyncio.gather(*(_set(d, NORMAL_PCT, 0) for d in reachable))
    finally:
        for client in clients.values():
            client.close()
    outcomes = Counter(s for s in surveyed if not s.startswith("ok")) + Counter(curtailed)
    return CeilingResult(seconds, survey_s, sent, dict(outcomes), surveyed.count("ok_not_restored"),
                         dict(Counter(restored)))
