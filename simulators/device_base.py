"""What every simulated device shares: its spec, counters, history, write log and injected fault."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from adapters import Profile

from .errors import SpecError
from .faults import APPLY_FAULTS, AUTH_FAULTS, FIRMWARE_FAULTS, MODEL_FAULTS, Fault, FaultKind, InjectedFault
from .physics import unit_noise
from .spec import DeviceSpec
from .write_log import WRITE_LOG_LIMIT, WriteListener, WriteRecord

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
    """What happened to the device: requests seen, writes per role or point, requests a fault hit,
    and curtailments its own dead-man timer released (no write asked for those)."""

    requests: int = 0
    writes: Counter[str] = field(default_factory=Counter)
    faults_injected: int = 0
    timer_releases: int = 0


class DeviceBase:
    """Counters, setpoint history, write log and fault admission; subclasses model the physics.

    ``FAULT_KINDS`` are the faults a device can take; firmware and auth faults
    need a device that models firmware or key slots. Ambiguous-write faults
    (``APPLY_FAULTS``) act here, on the answer to a write the device applied.
    """

    FAULT_KINDS = frozenset(FaultKind) - MODEL_FAULTS

    def __init__(self, *, spec: DeviceSpec, profile: Profile, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.profile = profile
        self.counters = Counters()
        self.history: deque[tuple[float, int]] = deque(maxlen=HISTORY_LIMIT)
        self.write_log: deque[WriteRecord] = deque(maxlen=WRITE_LOG_LIMIT)
        self._clock = clock
        self._fault: InjectedFault | None = None
        self._write_hits = 0  # applied writes an ambiguous-write fault hit since injection
        self._reply: Fault | None = None  # what happens to the answer of the request just applied
        self._write_listeners: list[WriteListener] = []

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
        if unknown := sorted(set(fault.roles) - self.write_roles()):
            raise SpecError(f"device {self.id!r}: a {fault.kind} fault names roles {unknown} it never writes "
                            f"(writable: {sorted(self.write_roles())})")

    def inject(self, fault: Fault) -> None:
        self.check_fault(fault)
        self._fault = InjectedFault(fault=fault, requests_before=self.counters.requests, armed_at=self._clock())
        self._write_hits, self._reply = 0, None

    def rearm_fault(self) -> None:
        """Restart an offline window's clock (the fleet calls this when it starts)."""
        if self._fault is not None:
            self.inject(self._fault.fault)

    def clear_fault(self) -> None:
        self._fault, self._reply = None, None

    def admit(self, request: Request | None = None) -> Fault | None:
        """Count a request; return the fault that hits it, if any: the device's own (a reboot), or an injected one."""
        self.counters.requests += 1
        if (own := self._own_fault(request)) is not None:
            return own
        if self._fault is None or not self._fault.hits(requests=self.counters.requests, now=self._clock()):
            return None
        self.counters.faults_injected += 1
        return self._fault.fault

    def receive_write(self, *, address: int, words: Sequence[int], values: Mapping[str, Value]) -> None:
        """Apply one write request (``RejectedWrite`` if refused), log it, and let an ambiguous-write fault act."""
        self.apply_write(address=address, words=words, values=values)
        by_role = self.as_roles(values)
        roles = tuple(by_role)
        self.write_log.append(WriteRecord(at=self._clock(), address=address, roles=roles,
                                          values=MappingProxyType(by_role)))
        if (fault := self._write_fault(roles)) is not None:
            self._reply = fault
        for listener in tuple(self._write_listeners):
            listener(self.id, self.write_log[-1])

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener(device_id, record)`` after each write this device applies, before it answers."""
        self._write_listeners.append(listener)

    def remove_write_listener(self, listener: WriteListener) -> None:
        self._write_listeners.remove(listener)

    def apply_write(self, *, address: int, words: Sequence[int], values: Mapping[str, Value]) -> None:
        """One write request as received: its raw words (for devices that authenticate them) and values by role."""
        self.write(values)

    def write(self, values: Mapping[str, Value]) -> None:
        raise NotImplementedError

    def as_roles(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """A write's values (keyed as the served register map names them) by profile role, in the role's units."""
        return dict(values)

    def write_roles(self) -> frozenset[str]:
        """Every role a write to this device can touch."""
        return frozenset(self.as_roles({p.role: 0 for p in self.profile.points if p.writable}))

    def take_reply(self) -> Fault | None:
        """What to do instead of sending the answer just computed (None: send it); each cause acts once."""
        reply, self._reply = self._reply, None
        return reply

    def _write_fault(self, roles: tuple[str, ...]) -> Fault | None:
        injected = self._fault
        if injected is None or injected.fault.kind not in APPLY_FAULTS:
            return None
        number = self.counters.requests - injected.requests_before
        if not injected.fault.hits_write(request_number=number, roles=roles, hits_so_far=self._write_hits):
            return None
        self._write_hits += 1
        self.counters.faults_injected += 1
        return injected.fault

    def _own_fault(self, request: Request | None) -> Fault | None:
        """What the device itself does to a request instead of answering (silent while rebooting, ...)."""
        return None

    def latency_s(self, fault: Fault) -> float:
        """This request's delay for a latency fault, repeatable from the device's seed."""
        draw = unit_noise(seed=self.spec.noise_seed ^ LATENCY_SEED_SALT, sample=self.counters.requests)
        return fault.latency_s(draw)

    def _implausible(self) -> bool:
        return self._fault is not None and self._fault.fault.kind is FaultKind.IMPLAUSIBLE

    def _record(self, at: float, setpoint: int) -> None:
        if (self.history[-1][1] if self.history else NORMAL_PCT) != setpoint:
            self.history.append((at, setpoint))
