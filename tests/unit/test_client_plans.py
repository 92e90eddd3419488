"""DeviceClient's request plans: worked out once per layout and group of roles, then
reused, with every check a first use makes still made on every later one.

A recording session stands in for the gateway (no network): what matters here is
which requests the client sends and what it refuses, call after call.
"""

from __future__ import annotations

import pytest

from adapters import CodecError, DeviceClient, UnknownRoleError, load_profile
from adapters.layouts import LayoutCache

SETPOINT, TIMER, MEASURED = "curtail_setpoint_pct", "revert_timeout_s", "measured_kw"


class RecordingSession:
    host, port = "127.0.0.1", 1502

    def __init__(self) -> None:
        self.layouts = LayoutCache()
        self.sent: list[tuple] = []

    async def read_registers(self, *, unit_id: int, address: int, count: int,
                             follow_up: bool = False) -> tuple[int, ...]:
        self.sent.append(("read", address, count))
        return tuple(range(address, address + count))   # register n holds n

    async def write_registers(self, *, unit_id: int, address: int, values) -> None:
        self.sent.append(("write", address, tuple(values)))


def client(session: RecordingSession, name: str = "controllable_load") -> DeviceClient:
    return DeviceClient(session=session, unit_id=7, profile=load_profile(name))


async def test_a_repeated_read_sends_the_same_requests_and_decodes_the_same_values():
    session = RecordingSession()
    first = await client(session).read_many([SETPOINT, MEASURED])
    sent_first = list(session.sent)
    session.sent.clear()
    again = await client(session).read_many((SETPOINT, MEASURED))   # a tuple names the same plan
    assert again == first and session.sent == sent_first
    assert list(first) == [SETPOINT, MEASURED]   # in the order asked


async def test_a_plan_is_kept_on_the_layout_and_unknown_roles_are_refused_every_time():
    session, profile = RecordingSession(), load_profile("controllable_load")
    device = DeviceClient(session=session, unit_id=7, profile=profile)
    await device.read_many([SETPOINT])
    planned = len(profile.plans)
    for _ in range(2):   # a refusal is not remembered as a plan
        with pytest.raises(UnknownRoleError):
            await device.read_many([SETPOINT, "no_such_role"])
        with pytest.raises(ValueError, match="string"):
            await device.read_many(SETPOINT)
    assert len(profile.plans) == planned and session.sent == [("read", 0, 1)]


async def test_every_value_is_checked_on_every_write_before_anything_is_sent():
    session = RecordingSession()
    await client(session).write_sequence([{TIMER: 60}, {SETPOINT: 0}])
    assert [kind for kind, *_ in session.sent] == ["write", "write"]
    session.sent.clear()
    with pytest.raises(CodecError, match="above maximum"):   # same plan, a value out of range
        await client(session).write_sequence([{TIMER: 60}, {SETPOINT: 101}])
    assert session.sent == []


async def test_a_critical_write_needs_a_key_on_every_call_not_only_the_first():
    session = RecordingSession()
    for _ in range(2):
        with pytest.raises(ValueError, match="critical"):
            await client(session, "secure_load").write_sequence([{SETPOINT: 0, TIMER: 60}])
    assert session.sent == []
