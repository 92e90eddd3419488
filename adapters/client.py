"""``DeviceClient``: read and write one device's points by role, through a gateway session.

Static and SunSpec profiles look the same to callers. For a SunSpec profile the
client walks the device's model chain on first use and keeps the resolved
layout in the session's ``layouts`` cache, so discovery runs once per unit per
session. Points scaled by a SunSpec scale factor are read together with it;
writing one reads the scale factor first.

A profile with ``auth`` names critical roles: each FC16 that writes one is
preceded by a read of the device's challenge and a MAC deposit (one FC16),
see ``auth_key``. Without ``key`` such a write is a programming error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import auth
from .auth import KeyOp, KeySlots, PendingState
from .auth_key import AuthKey
from .codec import Value, check_value, decode, encode
from .discovery import discover_layout
from .errors import CodecError, DeviceFault, FaultCode, NotImplementedValueError, NotWritableError
from .limits import MAX_READ_REGISTERS, MAX_WRITE_REGISTERS, check_unit_id
from .point import Point
from .profile import Profile
from .session import GatewaySession
from .spans import spans_of


READ_BACK_ATTEMPTS = 3     # to settle a write whose answer was lost
READ_BACK_PAUSE_S = 0.2    # before the 2nd read-back; twice that before the 3rd
PLANS_PER_LAYOUT = 256     # request plans remembered per layout (a few per step are used)


class DeviceClient:
    """One device (unit id) behind a gateway, spoken to in terms of its profile."""

    def __init__(self, *, session: GatewaySession, unit_id: int, profile: Profile) -> None:
        check_unit_id(unit_id)
        self.session = session
        self.unit_id = unit_id
        self.profile = profile

    async def read(self, role: str) -> Value:
        """Read and decode one point."""
        values = await self.read_many([role])
        return values[role]

    async def read_many(self, roles: Sequence[str], *, follow_up: bool = False) -> dict[str, Value]:
        """Read several points; points next to each other are fetched in one request.

        ``follow_up``: this reads back a write the caller has just made, and goes before
        other units' requests waiting for the gateway (``GatewaySession``)."""
        if isinstance(roles, str):
            self._checked_roles(roles)   # raises: a string is not a collection of roles
        wanted = tuple(roles)
        layout = await self.layout()
        plan: _ReadPlan = self._plan(layout, ("read", wanted), lambda: _read_plan(
            layout, [layout.point(role) for role in self._checked_roles(wanted)]))
        answers = await self._answers(plan, follow_up=follow_up)
        factors = self._factors(plan.factors, answers)
        return {at.point.role: self._decode(at.point, answers[at.request][at.start:at.end], factors)
                for at in plan.points}

    async def write(self, values: Mapping[str, Value], *, key: AuthKey | None = None) -> None:
        """Check and encode every value first, then write each contiguous run in one FC16 request.

        Points next to each other (a setpoint and its revert timer) therefore
        change together, atomically, on the device. Runs go out in address order;
        ``write_sequence`` puts writes in an order of the caller's choosing.
        A run with a critical role is authenticated with ``key`` (required then).
        """
        await self.write_sequence([values], key=key)

    async def write_sequence(self, groups: Sequence[Mapping[str, Value]], *, key: AuthKey | None = None,
                             confirm: bool = False) -> None:
        """Write ``groups`` one after the other, in the order given; each group as ``write`` writes it.

        Every value of every group is checked and encoded before the first
        request, so a value the codec refuses writes nothing. A group of
        contiguous points is one FC16, so ``[{timer: 60}, {setpoint: 0}]``
        arms a timer before the setpoint changes, and ``[{timer: 60, setpoint: 0}]``
        (contiguous) changes both at once.

        With ``confirm``, a write whose answer is lost (it timed out, the link
        dropped, the answer was garbage) is settled by reading its registers
        back: if they hold what was written the write took and the sequence
        goes on; if not, the original fault is raised; if they cannot be read,
        ``DeviceFault(OUTCOME_UNKNOWN)``. Only for points that read back what
        was written (setpoints, timers, gates), not for command registers.
        """
        if isinstance(groups, Mapping) or not groups:
            raise ValueError(f"expected a non-empty sequence of groups of role values, got {groups!r}")
        named = tuple(tuple(group) for group in groups)
        layout = await self.layout()
        plan: _WritePlan = self._plan(layout, ("write", named),
                                      lambda: self._write_plan(layout, [self._checked_roles(g) for g in named]))
        if plan.critical and not isinstance(key, AuthKey):
            raise ValueError(f"profile {self.profile.name!r}: roles {list(plan.critical)} are critical; "
                             "pass key=AuthKey(...)")
        for points, values in zip(plan.groups, groups):
            for point in points:
                check_value(point, values[point.role])
        factors = ({} if plan.scaled is None
                   else self._factors(plan.scaled.points, await self._answers(plan.scaled)))
        frames = [(frame, _encoded(frame.points, values, factors))
                  for frames_of_group, values in zip(plan.frames, groups) for frame in frames_of_group]
        for done, (frame, payload) in enumerate(frames):
            try:
                await self._write_frame(layout, frame, words=payload, key=key)
            except DeviceFault as fault:
                if not (confirm and fault.answer_lost):
                    raise _after(fault, frames_done=done, in_doubt=fault.answer_lost) from None
                try:
                    await self._settle_lost_write(address=frame.address, words=payload, fault=fault)
                except DeviceFault as settled:
                    unknown = settled.code == FaultCode.OUTCOME_UNKNOWN
                    raise _after(settled, frames_done=done, in_doubt=unknown) from fault

    def _write_plan(self, layout: Profile, groups: Sequence[Sequence[str]]) -> _WritePlan:
        points = [tuple(self._writable(layout, role) for role in group) for group in groups]
        for group in points:
            _reject_shared_registers(list(group))
        critical_roles = self.profile.critical_roles
        critical = sorted(critical_roles.intersection(role for group in groups for role in group))
        scaled = _scale_factor_points(layout, [point for group in points for point in group])
        frames = tuple(
            tuple(_Frame(span.address, span.points, not critical_roles.isdisjoint(span.roles))
                  for span in spans_of(group, max_registers=MAX_WRITE_REGISTERS))
            for group in points)
        return _WritePlan(tuple(points), frames, tuple(critical), _read_plan(layout, scaled) if scaled else None)

    async def _write_frame(self, layout: Profile, frame: _Frame, *, words: tuple[int, ...],
                           key: AuthKey | None) -> None:
        if not frame.critical:
            await self.session.write_registers(unit_id=self.unit_id, address=frame.address, values=words)
        else:
            await self._write_authenticated(layout, address=frame.address, words=words, key=key)

    async def _settle_lost_write(self, *, address: int, words: tuple[int, ...], fault: DeviceFault) -> None:
        """Return if the registers hold ``words`` (the write took); raise ``fault`` if they
        hold something else; raise OUTCOME_UNKNOWN if no read-back succeeds."""
        failures: list[str] = []
        for attempt in range(READ_BACK_ATTEMPTS):
            if attempt:
                await asyncio.sleep(READ_BACK_PAUSE_S * attempt)
            try:
                found = await self.session.read_registers(unit_id=self.unit_id, address=address, count=len(words),
                                                          follow_up=True)
            except DeviceFault as again:
                failures.append(again.code)
                continue
            if tuple(found) == tuple(words):
                return
            raise DeviceFault(fault.code, f"{fault.detail}; read back: not applied") from fault
        raise self._fault(FaultCode.OUTCOME_UNKNOWN,
                          f"write of {len(words)} registers at {address}: answer lost ({fault.code}) and "
                          f"{READ_BACK_ATTEMPTS} read-backs failed ({', '.join(failures)}); it may have been applied"
                          ) from fault

    async def auth_command(self, op: int, *, key: AuthKey, version: int, arg: bytes = b"") -> None:
        """Send one key command (``KeyOp``), MAC'd with ``key``: the key that command needs."""
        command = KeyOp(op)
        await self.write({auth.COMMAND: int(command), auth.COMMAND_VERSION: version, auth.COMMAND_ARG: arg}, key=key)

    async def key_slots(self) -> KeySlots:
        """The key versions the device holds (one read)."""
        slots = await self.read_many(auth.SLOT_ROLES)
        return KeySlots(
            active=int(slots[auth.ACTIVE_VERSION]), pending=int(slots[auth.PENDING_VERSION]) or None,
            previous=int(slots[auth.PREVIOUS_VERSION]) or None,
            pending_state=PendingState(int(slots[auth.PENDING_STATE])),
        )

    async def _write_authenticated(self, layout: Profile, *, address: int, words: tuple[int, ...],
                                   key: AuthKey) -> None:
        """Read the challenge, deposit the MAC of this write (one FC16), then write it."""
        challenge = int(await self.read(auth.CHALLENGE))
        mac = key.mac(challenge=challenge, unit_id=self.unit_id, address=address, words=words)
        version_point, mac_point = layout.point(auth.KEY_VERSION), layout.point(auth.MAC)
        deposit = (*encode(version_point, key.version), *encode(mac_point, mac))
        await self.session.write_registers(unit_id=self.unit_id, address=version_point.address, values=deposit)
        try:
            await self.session.write_registers(unit_id=self.unit_id, address=address, values=words)
        except DeviceFault as fault:
            if fault.exception_code != auth.NOT_AUTHENTICATED:
                raise
            reason = f"write of {len(words)} registers at {address} with key version {key.version} not authenticated"
            raise self._fault(FaultCode.AUTH_REJECTED, reason, exception_code=fault.exception_code) from fault

    async def layout(self) -> Profile:
        """The static profile of this device: the profile itself, or the SunSpec layout found on it."""
        if not self.profile.is_sunspec:
            return self.profile
        return await self.session.layouts.get(unit_id=self.unit_id, profile=self.profile, discover=self._discover)

    async def _discover(self) -> Profile:
        return await discover_layout(self.session, unit_id=self.unit_id, profile=self.profile)

    @staticmethod
    def _plan(layout: Profile, key: tuple, build: Callable[[], Any]) -> Any:
        """The request plan `key` names, on `layout`: `build` works it out (checking the
        roles) on first use; then it is remembered on the layout (``Profile.plans``)."""
        plan = layout.plans.get(key)
        if plan is None:
            plan = build()
            if len(layout.plans) >= PLANS_PER_LAYOUT:
                layout.plans.clear()
            layout.plans[key] = plan
        return plan

    async def _answers(self, plan: _ReadPlan, *, follow_up: bool = False) -> list[tuple[int, ...]]:
        """The registers each of the plan's FC3 requests returns, in its order."""
        return [await self.session.read_registers(unit_id=self.unit_id, address=address, count=count,
                                                  follow_up=follow_up)
                for address, count in plan.requests]

    def _factors(self, slices: Sequence[_Slice], answers: Sequence[tuple[int, ...]]) -> dict[str, int]:
        """The values of sunssf points, by name, from the answers that hold them."""
        return {at.point.name: int(self._decode(at.point, answers[at.request][at.start:at.end], {}))
                for at in slices}

    def _decode(self, point: Point, words: tuple[int, ...], factors: Mapping[str, int]) -> Value:
        """Decode what the device sent; a value the codec refuses is the device's fault."""
        try:
            return decode(point, words, scale_factor=factors.get(point.scale_factor) if point.scale_factor else None)
        except NotImplementedValueError as exc:
            raise self._fault(FaultCode.PROFILE_MISMATCH, str(exc)) from exc
        except CodecError as exc:
            raise self._fault(FaultCode.BAD_RESPONSE, str(exc)) from exc

    def _writable(self, layout: Profile, role: str) -> Point:
        point = layout.point(role)
        if not point.writable:
            raise NotWritableError(f"profile {self.profile.name!r}: point {role!r} is read-only")
        return point

    def _checked_roles(self, roles: Sequence[str] | Mapping[str, Value]) -> list[str]:
        if isinstance(roles, str):
            raise ValueError(f"expected a collection of roles, got the string {roles!r}")
        if not roles:
            raise ValueError("no roles given")
        unique = list(dict.fromkeys(roles))
        self.profile.require_roles(unique)
        return unique

    def _fault(self, code: FaultCode, reason: str, *, exception_code: int | None = None) -> DeviceFault:
        where = f"{self.session.host}:{self.session.port} unit {self.unit_id}"
        return DeviceFault(code, f"{where}: {reason}", exception_code)


@dataclass(frozen=True, slots=True)
class _Slice:
    """Where one point's registers are in the answers of a read plan's requests."""

    point: Point
    request: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    requests: tuple[tuple[int, int], ...]   # (address, count) of each FC3, in address order
    points: tuple[_Slice, ...]              # the points asked for, in the order asked
    factors: tuple[_Slice, ...]             # the sunssf points that scale them


@dataclass(frozen=True, slots=True)
class _Frame:
    """One FC16 of a write: consecutive points, and whether it must be authenticated."""

    address: int
    points: tuple[Point, ...]
    critical: bool


@dataclass(frozen=True, slots=True)
class _WritePlan:
    groups: tuple[tuple[Point, ...], ...]    # each group's points, as the caller named them
    frames: tuple[tuple[_Frame, ...], ...]   # each group's FC16 requests, in address order
    critical: tuple[str, ...]                # critical roles written: a key is required
    scaled: _ReadPlan | None                 # the scale factors to read before encoding


def _read_plan(layout: Profile, points: Sequence[Point]) -> _ReadPlan:
    factors = _scale_factor_points(layout, points)
    spans = spans_of((*points, *factors), max_registers=MAX_READ_REGISTERS, max_gap=layout.read_gap)
    where = {point: _Slice(point, index, point.address - span.address, point.end - span.address)
             for index, span in enumerate(spans) for point in span.points}
    return _ReadPlan(tuple((span.address, span.count) for span in spans),
                     tuple(where[point] for point in points), tuple(where[point] for point in factors))


def _encoded(points: Sequence[Point], values: Mapping[str, Value], factors: Mapping[str, int]) -> tuple[int, ...]:
    """One frame's words: its points' values, encoded one after the other."""
    words: list[int] = []
    for point in points:
        words += encode(point, values[point.role], scale_factor=factors.get(point.scale_factor))
    return tuple(words)


def _scale_factor_points(layout: Profile, points: Iterable[Point]) -> list[Point]:
    found: list[Point] = []
    for point in points:
        if point.scale_factor is not None and (factor := layout.scale_factor_point(point)) is not None \
                and factor not in found:
            found.append(factor)
    return found


def _after(fault: DeviceFault, *, frames_done: int, in_doubt: bool) -> DeviceFault:
    """``fault``, saying whether the device may have changed: an earlier frame of the
    sequence took, or this one's effect is in doubt."""
    fault.changed = frames_done > 0 or in_doubt
    return fault


def _reject_shared_registers(points: list[Point]) -> None:
    ordered = sorted(points, key=lambda point: point.address)
    for before, after in zip(ordered, ordered[1:]):
        if after.address < before.end:
            raise CodecError(f"roles {before.role!r} and {after.role!r} would write the same registers")
