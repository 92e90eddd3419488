"""Plain, picklable records that cross the Ray boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters import FaultCode


@dataclass(frozen=True)
class DeviceRef:
    device_id: str
    host: str
    port: int
    unit_id: int
    profile: str
    segment: str | None = None   # on a cluster: driven by this segment's shards (actors.pool)


@dataclass(frozen=True)
class DeviceTask:
    ref: DeviceRef
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        return self.ref.device_id


@dataclass(frozen=True)
class DeviceResult:
    """One device's outcome of one step: ``code`` (a ``FaultCode``) says why it is not ok."""

    device_id: str
    ok: bool
    code: FaultCode | None = None
    detail: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code is not None:  # ValueError for a code outside the vocabulary
            object.__setattr__(self, "code", FaultCode(self.code))

    @classmethod
    def fault(cls, device_id: str, code: FaultCode, detail: str) -> "DeviceResult":
        return cls(device_id, ok=False, code=FaultCode(code), detail=detail)


@dataclass(slots=True)
class DeviceState:
    """What a shard knows about one device (rebuilt from Postgres on restart).

    `holder` is the operation that has the device curtailed. The hold lasts
    only while the device's dead-man timer is armed (`holder_until`, epoch
    seconds): after that the device has reverted by itself, whatever became
    of the operation, so the hold is void.
    """

    holder: str | None = None
    holder_until: float | None = None
    setpoint_pct: int | None = None
    last_kw: float | None = None

    def held_by_other(self, operation_id: str, now: float) -> bool:
        return (self.holder not in (None, operation_id)
                and self.holder_until is not None and self.holder_until > now)

    def hold(self, operation_id: str, until: float) -> None:
        self.holder, self.holder_until = operation_id, until

    def release(self) -> None:
        self.holder, self.holder_until = None, None
