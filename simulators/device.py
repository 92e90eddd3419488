"""A simulated controllable load: setpoint, revert timer, power draw, counters and faults."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from adapters import Profile

from .errors import SpecError
from .faults import Fault, InjectedFault
from .physics import LoadPhysics
from .spec import DeviceSpec
from .timer import RevertTimer

NORMAL_SETPOINT_PCT = 100
HISTORY_LIMIT = 1024
SETPOINT = "curtail_setpoint_pct"
REVERT_TIMEOUT = "revert_timeout_s"
REVERT_REMAINING = "revert_remaining_s"
RATED = "rated_kw"
MEASURED = "measured_kw"
MODEL_ROLES = frozenset({SETPOINT, REVERT_TIMEOUT, REVERT_REMAINING, RATED, MEASURED})
WRITABLE_ROLES = frozenset({SETPOINT, REVERT_TIMEOUT})

Value = int | float


@dataclass(slots=True)
class Counters:
    """What happened to the device: requests seen, writes per role, requests a fault hit."""

    requests: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0


class SimulatedDevice:
    """Runtime state of one device. Reads are computed when asked; the timer is lazy."""

    def __init__(
        self,
        *,
        spec: DeviceSpec,
        profile: Profile,
        physics: LoadPhysics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_profile(spec, profile)
        self.spec = spec
        self.profile = profile
        self.counters = Counters()
        self.history: deque[tuple[float, int]] = deque(maxlen=HISTORY_LIMIT)
        self._physics = physics
        self._clock = clock
        self._setpoint = NORMAL_SETPOINT_PCT
        self._timer = RevertTimer()
        self._samples = 0
        self._fault: InjectedFault | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def rated_kw(self) -> float:
        return self.spec.rated_kw

    @property
    def load_factor(self) -> float:
        return self.spec.load_factor

    @property
    def setpoint_pct(self) -> int:
        self._settle()
        return self._setpoint

    @property
    def revert_timeout_s(self) -> int:
        return self._timer.timeout_s

    @property
    def revert_remaining_s(self) -> int:
        self._settle()
        return self._timer.remaining_s(self._clock())

    def measured_kw(self) -> float:
        self._samples += 1
        return self._physics.measured_kw(self.spec, setpoint_pct=self.setpoint_pct, sample=self._samples)

    def value(self, role: str) -> Value:
        """The current value of a profile role, in engineering units."""
        match role:
            case "curtail_setpoint_pct":
                return self.setpoint_pct
            case "revert_timeout_s":
                return self.revert_timeout_s
            case "revert_remaining_s":
                return self.revert_remaining_s
            case "rated_kw":
                return self.rated_kw
            case "measured_kw":
                return self.measured_kw()
        raise KeyError(f"device {self.id!r} has no role {role!r}")

    def write(self, values: Mapping[str, Value]) -> None:
        """Apply one write request: the setpoint first, then (re)arm the revert timer."""
        self._settle()
        now = self._clock()
        if SETPOINT in values:
            self._change_setpoint(int(values[SETPOINT]), at=now)
        if REVERT_TIMEOUT in values:
            self._timer.arm(timeout_s=int(values[REVERT_TIMEOUT]), now=now)
        self.counters.writes.update(values.keys())

    def inject(self, fault: Fault) -> None:
        self._fault = InjectedFault(fault=fault, requests_before=self.counters.requests)

    def clear_fault(self) -> None:
        self._fault = None

    def admit(self) -> Fault | None:
        """Count a request; return the fault that hits it, if any."""
        self.counters.requests += 1
        if self._fault is None or not self._fault.hits(requests=self.counters.requests):
            return None
        self.counters.faults_injected += 1
        return self._fault.fault

    def _settle(self) -> None:
        if (expired_at := self._timer.take_expiry(self._clock())) is not None:
            self._change_setpoint(NORMAL_SETPOINT_PCT, at=expired_at)

    def _change_setpoint(self, setpoint: int, *, at: float) -> None:
        if setpoint != self._setpoint:
            self._setpoint = setpoint
            self.history.append((at, setpoint))


def _check_profile(spec: DeviceSpec, profile: Profile) -> None:
    if profile.name != spec.profile:
        raise SpecError(f"device {spec.id!r}: wants profile {spec.profile!r}, got {profile.name!r}")
    if set(profile.roles) != MODEL_ROLES:
        raise SpecError(f"profile {profile.name!r}: roles {sorted(profile.roles)} != {sorted(MODEL_ROLES)}")
    writable = {point.role for point in profile.points if point.writable}
    if writable != WRITABLE_ROLES:
        raise SpecError(f"profile {profile.name!r}: writable roles {sorted(writable)} != {sorted(WRITABLE_ROLES)}")
