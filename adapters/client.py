"""``DeviceClient``: read and write one device's points by role, through a gateway session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .codec import Value, decode, encode
from .errors import NotWritableError
from .limits import MAX_READ_REGISTERS, MAX_WRITE_REGISTERS, check_unit_id
from .profile import Point, Profile
from .session import GatewaySession
from .spans import Span, contiguous_spans


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

    async def read_many(self, roles: Sequence[str]) -> dict[str, Value]:
        """Read several points; contiguous points are fetched in one request."""
        points = self._points(roles)
        values: dict[str, Value] = {}
        for span in contiguous_spans(points, max_registers=MAX_READ_REGISTERS):
            values.update(await self._read_span(span))
        return {point.role: values[point.role] for point in points}

    async def write(self, values: Mapping[str, Value]) -> None:
        """Encode every value first, then write each contiguous run in one FC16 request.

        Points next to each other (a setpoint and its revert timer) therefore
        change together, atomically, on the device.
        """
        points = [self._writable(role) for role in self._roles(values)]
        words = {point: encode(point, values[point.role]) for point in points}
        for span in contiguous_spans(points, max_registers=MAX_WRITE_REGISTERS):
            payload = tuple(word for point in span.points for word in words[point])
            await self.session.write_registers(unit_id=self.unit_id, address=span.address, values=payload)

    async def _read_span(self, span: Span) -> dict[str, Value]:
        registers = await self.session.read_registers(
            unit_id=self.unit_id, address=span.address, count=span.count
        )
        return {
            point.role: decode(point, registers[point.address - span.address : point.end - span.address])
            for point in span.points
        }

    def _points(self, roles: Sequence[str]) -> list[Point]:
        unique = dict.fromkeys(self._roles(roles))
        return [self.profile.point(role) for role in unique]

    def _writable(self, role: str) -> Point:
        point = self.profile.point(role)
        if not point.writable:
            raise NotWritableError(f"profile {self.profile.name!r}: point {role!r} is read-only")
        return point

    @staticmethod
    def _roles(roles: Sequence[str] | Mapping[str, Value]) -> list[str]:
        if isinstance(roles, str):
            raise ValueError(f"expected a collection of roles, got the string {roles!r}")
        if not roles:
            raise ValueError("no roles given")
        return list(roles)
