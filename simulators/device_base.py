"""What every simulated device shares: its spec, counters, history and injected fault."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from adapters import Profile

from .errors import SpecError
from .faults import AUTH_FAULTS, FIRMWARE_FAULTS, MODEL_FAULTS, Fault, FaultKind, InjectedFault
from .physics import unit_noise
from .spec import DeviceSpec

HISTORY_LIMIT = 1024
NORMAL_PCT = 100
LATENCY_SEED_SALT = 0x5DEECE66D  # latency draws do not repeat the power noise

Value = int | float | str | bytes

WRITE_FUNCTIONS = frozenset({6, 16})  # write single register, write multiple registers
MODEL_FAULT_NEEDS = {
    **dict.fromkeys(FIRMWARE_FAULTS, "firmware faults need a device with the firmware roles (profile 'rtu')"),
    **dict.fromkeys(AUTH_FAULTS, "auth faults need a device with authenticated key slots (profile 'secure_load')"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What a request asks of a device, as far as fault admission needs to know."""

    function_code: int
    address: int
    count: int

    def writes(self, address: int) -> bool:
        """Whether this is a register write that covers ``address``."""
        return self.function_code in WRITE_FUNCTIONS and self.address <= address < self.address + self.count


@dataclass(slots=True)
class Counters:
    """What happened to the device: requests seen, writes per role or point, requests a fault hit."""

    requests: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0


class DeviceBase:
    """Counters, setpoint history and fault admission; subclasses model the physics.

    ``FAULT_KINDS`` are the faults a device can take; firmware and auth faults
    need a device that models firmware or key slots.
    """

    FAULT_KINDS = frozenset(FaultKind) - MODEL_FAULTS

    def __init__(self, *, spec: DeviceSpec, profile: Profile, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.profile = profile
        self.counters = Counters()
        self.history: deque[tuple[float, int]] = deque(maxlen=HISTORY_LIMIT)
        self._clock = clock
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
    def fault(self) -> Fault | None:
        return None if self._fault is None else self._fault.fault

    def check_fault(self, fault: Fault) -> None:
        """``SpecError`` unless this device can take ``fault``."""
        if fault.kind not in self.FAULT_KINDS:
            raise SpecError(f"device {self.id!r} (profile {self.spec.profile!r}) cannot take a {fault.kind} fault; "
                            f"{MODEL_FAULT_NEEDS.get(fault.kind, 'this device does not model it')}")

    def inject(self, fault: Fault) -> None:
        self.check_fault(fault)
        self._fault = InjectedFault(fault=fault, requests_before=self.counters.requests, armed_at=self._clock())

    def rearm_fault(self) -> None:
        """Restart an offline window's clock (the fleet calls this when it starts)."""
        if self._fault is not None:
            self.inject(self._fault.fault)

    def clear_fault(self) -> None:
        self._fault = None

    def admit(self, request: Request | None = None) -> Fault | None:
        """Count a request; return the fault that hits it, if any: the device's own (a reboot), or an injected one."""
        self.counters.requests += 1
        if (own := self._own_fault(request)) is not None:
            return own
        if self._fault is None or not self._fault.hits(requests=self.counters.requests, now=self._clock()):
            return None
        self.counters.faults_injected += 1
        return self._fault.fault

    def apply_write(self, *, address: int, words: Sequence[int], values: Mapping[str, Value]) -> None:
        """One write request as received: its raw words (for devices that authenticate them) and values by role."""
        self.write(values)

    def write(self, values: Mapping[str, Value]) -> None:
        raise NotImplementedError

    def drops_reply(self) -> bool:
        """Whether to close the connection instead of sending the answer just computed (at most once per cause)."""
        return False

    def _own_fault(self, request: Request | None) -> Fault | None:
        """What the device itself does to a request instead of answering (silent while rebooting, ...)."""
        return None

    def latency_s(self, fault: Fault) -> float:
        """This request's delay for a latency fault, repeatable from the device's seed."""
        draw = unit_noise(seed=self.spec.noise_seed ^ LATENCY_SEED_SALT, sample=self.counters.requests)
        return fault.delay_s(draw)

    def _implausible(self) -> bool:
        return self._fault is not None and self._fault.fault.kind is FaultKind.IMPLAUSIBLE

    def _record(self, at: float, setpoint: int) -> None:
        if (self.history[-1][1] if self.history else NORMAL_PCT) != setpoint:
            self.history.append((at, setpoint))
