"""Plain, picklable records that cross the Ray boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DeviceRef:
    device_id: str
    host: str
    port: int
    unit_id: int
    profile: str


@dataclass(frozen=True)
class DeviceTask:
    ref: DeviceRef
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def device_id(self) -> str:
        return self.ref.device_id


@dataclass(frozen=True)
class DeviceResult:
    device_id: str
    ok: bool
    code: str | None = None
    detail: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fault(cls, device_id: str, code: str, detail: str) -> "DeviceResult":
        return cls(device_id, ok=False, code=code, detail=detail)


@dataclass
class DeviceState:
    """What a shard knows about one device (rebuilt from Postgres on restart)."""

    holder: str | None = None
    setpoint_pct: int | None = None
    last_kw: float | None = None
