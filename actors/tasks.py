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


# -- across the Ray boundary -----------------------------------------------------------
# Ray pickles call arguments and results with cloudpickle, whose per-object hook makes
# dataclasses dear: 10,000 tasks took about 0.1 s of the API process's CPU to send, and
# their results 45 ms to take back, once per step. Packed as tuples of plain values the
# same batches take about 12 and 17 ms there (C pickle's work, and building the records
# again). The pool packs, the shard unpacks (DeviceShardImpl.execute_packed_stream) and
# packs the results it streams back.

PackedTask = tuple[str, str, int, int, str, "str | None", dict[str, Any]]
PackedResult = tuple[str, bool, "str | None", "str | None", dict[str, Any]]


def pack_tasks(tasks: list[DeviceTask]) -> list[PackedTask]:
    return [(t.ref.device_id, t.ref.host, t.ref.port, t.ref.unit_id, t.ref.profile, t.ref.segment, t.args)
            for t in tasks]


def unpack_tasks(packed: list[PackedTask]) -> list[DeviceTask]:
    tasks = []
    for device_id, host, port, unit_id, profile, segment, args in packed:
        ref = _frozen(DeviceRef, device_id=device_id, host=host, port=port, unit_id=unit_id,
                      profile=profile, segment=segment)
        tasks.append(_frozen(DeviceTask, ref=ref, args=args))
    return tasks


def pack_results(results: list[DeviceResult]) -> list[PackedResult]:
    return [(r.device_id, r.ok, r.code.value if r.code is not None else None, r.detail, r.values)
            for r in results]


def unpack_results(packed: list[PackedResult]) -> list[DeviceResult]:
    return [_frozen(DeviceResult, device_id=device_id, ok=ok, code=None if code is None else FaultCode(code),
                    detail=detail, values=values)
            for device_id, ok, code, detail, values in packed]


def _frozen(cls: type, **fields: Any) -> Any:
    """An instance of the frozen dataclass `cls` with every field given, without its
    `__init__` (which sets each field through object.__setattr__). The packers above give
    every field; DeviceResult's code is made a FaultCode by the caller, as its __post_init__
    would."""
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


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
