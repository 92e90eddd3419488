"""Injected faults: what a device does to a request instead of answering it normally."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any

MAX_EXCEPTION_CODE = 0xFF
DEFAULT_EXCEPTION_CODE = 4  # SLAVE/DEVICE FAILURE
DEFAULT_LATE_ANSWER_S = 1.3  # past a client's usual 1.0 s timeout
MAX_LATE_ANSWER_S = 30.0
LATENCY_DISTRIBUTIONS = ("uniform", "lognormal")
_STANDARD_NORMAL = NormalDist()


class FaultKind(enum.StrEnum):
    TIMEOUT = "timeout"  # never answer; the client must time out
    EXCEPTION = "exception"  # answer with a Modbus exception response
    DROP = "drop"  # close the TCP connection the request came in on
    LATENCY = "latency"  # answer, after a delay drawn from a distribution
    IMPLAUSIBLE = "implausible"  # answer, but measured power ignores the setpoint
    OFFLINE = "offline"  # no answer inside a time window after injection (or fleet start)
    # Firmware faults (devices with the firmware roles, profile "rtu"); they act on
    # firmware transfers and boots, not on every request.
    CORRUPT_CHUNK = "corrupt_chunk"  # flip a byte of one chunk (of every chunk from it, if persistent)
    FAILED_BOOT = "failed_boot"  # the booted image fails: back on the old version, ROLLED_BACK
    ENDLESS_REBOOT = "endless_reboot"  # after an activation, never answer again
    DROP_MID_TRANSFER = "drop_mid_transfer"  # close the connection once, on a chunk write
    # Auth faults (devices with authenticated key slots, profile "secure_load").
    DROP_AFTER_AUTH_COMMAND = "drop_after_auth_command"  # apply the next key command, close instead of answering
    # Ambiguous writes (every device): the write takes effect, but its answer is lost to the client.
    LATE_ANSWER = "late_answer"  # apply the write at once, answer after delay_s
    DROP_AFTER_APPLY = "drop_after_apply"  # apply the write, close the connection instead of answering


FIRMWARE_FAULTS = frozenset(
    {FaultKind.CORRUPT_CHUNK, FaultKind.FAILED_BOOT, FaultKind.ENDLESS_REBOOT, FaultKind.DROP_MID_TRANSFER}
)
AUTH_FAULTS = frozenset({FaultKind.DROP_AFTER_AUTH_COMMAND})
MODEL_FAULTS = FIRMWARE_FAULTS | AUTH_FAULTS  # the device model applies these, not request admission
APPLY_FAULTS = frozenset({FaultKind.LATE_ANSWER, FaultKind.DROP_AFTER_APPLY})  # act on the answer to an applied write


# Parameters each kind accepts (besides after_requests), for files and CLI flags.
KIND_PARAMETERS = {
    FaultKind.TIMEOUT: (),
    FaultKind.EXCEPTION: ("code",),
    FaultKind.DROP: (),
    FaultKind.LATENCY: ("min_s", "max_s", "distribution", "median_s", "sigma"),
    FaultKind.IMPLAUSIBLE: (),
    FaultKind.OFFLINE: ("start_s", "duration_s"),
    FaultKind.CORRUPT_CHUNK: ("chunk", "persistent"),
    FaultKind.FAILED_BOOT: (),
    FaultKind.ENDLESS_REBOOT: (),
    FaultKind.DROP_MID_TRANSFER: ("after_chunks",),
    FaultKind.DROP_AFTER_AUTH_COMMAND: ("code",),  # code: only after this key op (0: any)
    # roles: only writes that touch one of these roles (none: every write); times: at most this many writes
    FaultKind.LATE_ANSWER: ("delay_s", "roles", "times"),
    FaultKind.DROP_AFTER_APPLY: ("roles", "times"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A fault that hits every request to the device after the first ``after_requests`` ones.

    Only the fields of its kind may differ from their defaults; build one with the
    class methods (``Fault.latency(min_s=0.05, max_s=0.2)``) or ``Fault.parse``.
    """

    kind: FaultKind
    after_requests: int = 0
    code: int = 0
    min_s: float = 0.0
    max_s: float = 0.0
    distribution: str = "uniform"
    median_s: float = 0.0
    sigma: float = 0.0
    start_s: float = 0.0
    duration_s: float | None = None
    chunk: int = 0
    persistent: bool = False
    after_chunks: int = 0
    delay_s: float = DEFAULT_LATE_ANSWER_S
    roles: tuple[str, ...] = ()
    times: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FaultKind(self.kind))
        if isinstance(self.roles, list):  # from a fleet file or a CLI flag
            object.__setattr__(self, "roles", tuple(self.roles))
        if problem := _fault_problem(self):
            raise ValueError(f"{self.kind} fault: {problem}")

    @classmethod
    def timeout(cls, *, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.TIMEOUT, after_requests=after_requests)

    @classmethod
    def exception(cls, *, code: int = DEFAULT_EXCEPTION_CODE, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.EXCEPTION, code=code, after_requests=after_requests)

    @classmethod
    def drop(cls, *, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.DROP, after_requests=after_requests)

    @classmethod
    def latency(
        cls, *, min_s: float, max_s: float, distribution: str = "uniform", median_s: float = 0.0,
        sigma: float = 0.0, after_requests: int = 0,
    ) -> Fault:
        """Delay each answer by ``min_s..max_s``: uniform, or lognormal(median_s, sigma) clipped to the bounds."""
        return cls(kind=FaultKind.LATENCY, min_s=min_s, max_s=max_s, distribution=distribution,
                   median_s=median_s, sigma=sigma, after_requests=after_requests)

    @classmethod
    def implausible(cls) -> Fault:
        return cls(kind=FaultKind.IMPLAUSIBLE)

    @classmethod
    def offline(cls, *, start_s: float = 0.0, duration_s: float | None = None) -> Fault:
        """Silent from ``start_s`` for ``duration_s`` seconds (forever without one)."""
        return cls(kind=FaultKind.OFFLINE, start_s=start_s, duration_s=duration_s)

    @classmethod
    def corrupt_chunk(cls, *, chunk: int = 0, persistent: bool = False) -> Fault:
        """Flip a byte of the ``chunk``-th chunk write (0-based) after injection; of every later one too if persistent."""
        return cls(kind=FaultKind.CORRUPT_CHUNK, chunk=chunk, persistent=persistent)

    @classmethod
    def failed_boot(cls) -> Fault:
        """Every boot of a new image fails: the device comes back on its old version, ROLLED_BACK."""
        return cls(kind=FaultKind.FAILED_BOOT)

    @classmethod
    def endless_reboot(cls) -> Fault:
        """After an activation the device never answers again (until the fault is cleared)."""
        return cls(kind=FaultKind.ENDLESS_REBOOT)

    @classmethod
    def drop_mid_transfer(cls, *, after_chunks: int = 0) -> Fault:
        """Let ``after_chunks`` chunk writes through, then close the connection on the next one, once."""
        return cls(kind=FaultKind.DROP_MID_TRANSFER, after_chunks=after_chunks)

    @classmethod
    def drop_after_auth_command(cls, *, op: int = 0) -> Fault:
        """Apply the next key command (of key op `op`; 0: any), then close the connection
        instead of answering it (once)."""
        return cls(kind=FaultKind.DROP_AFTER_AUTH_COMMAND, code=op)

    @classmethod
    def late_answer(cls, *, delay_s: float = DEFAULT_LATE_ANSWER_S, roles: tuple[str, ...] = (),
                    times: int | None = None, after_requests: int = 0) -> Fault:
        """Apply a write at once and answer it ``delay_s`` later: past its timeout, the client cannot tell."""
        return cls(kind=FaultKind.LATE_ANSWER, delay_s=delay_s, roles=roles, times=times,
                   after_requests=after_requests)

    @classmethod
    def drop_after_apply(cls, *, roles: tuple[str, ...] = (), times: int | None = None,
                         after_requests: int = 0) -> Fault:
        """Apply a write, then close the connection instead of answering it."""
        return cls(kind=FaultKind.DROP_AFTER_APPLY, roles=roles, times=times, after_requests=after_requests)

    @classmethod
    def parse(cls, kind: str, parameters: dict[str, Any]) -> Fault:
        """A fault from plain data (fleet files, CLI flags); unknown kinds or parameters raise."""
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(FaultKind)})") from None
        allowed = ("after_requests", *KIND_PARAMETERS[fault_kind])
        if unknown := sorted(set(parameters) - set(allowed)):
            raise ValueError(f"{kind} fault: unknown parameters {unknown} (allowed: {', '.join(allowed)})")
        defaults = {"code": DEFAULT_EXCEPTION_CODE} if fault_kind is FaultKind.EXCEPTION else {}
        return cls(kind=fault_kind, **{**defaults, **parameters})

    def describe(self) -> dict[str, Any]:
        """Kind and the parameters that differ from their defaults, as plain data."""
        described: dict[str, Any] = {"kind": str(self.kind)}
        for field in fields(self)[1:]:
            if (value := getattr(self, field.name)) != field.default:
                described[field.name] = value
        return described

    def hits(self, *, request_number: int) -> bool:
        """Whether the ``request_number``-th request since injection (1-based) is hit."""
        return request_number > self.after_requests

    def hits_write(self, *, request_number: int, roles: tuple[str, ...], hits_so_far: int) -> bool:
        """Whether an ambiguous-write fault hits this applied write, which touched ``roles``."""
        chosen = not self.roles or not set(self.roles).isdisjoint(roles)
        left = self.times is None or hits_so_far < self.times
        return chosen and left and self.hits(request_number=request_number)

    def offline_at(self, elapsed_s: float) -> bool:
        """Whether an offline fault keeps the device silent ``elapsed_s`` after it was armed."""
        if elapsed_s < self.start_s:
            return False
        return self.duration_s is None or elapsed_s < self.start_s + self.duration_s

    def latency_s(self, uniform: float) -> float:
        """The latency for one request, from a uniform number in [0, 1)."""
        if self.distribution == "uniform":
            return self.min_s + (self.max_s - self.min_s) * uniform
        quantile = _STANDARD_NORMAL.inv_cdf(min(max(uniform, 1e-12), 1 - 1e-12))
        return min(self.max_s, max(self.min_s, self.median_s * math.exp(self.sigma * quantile)))


def _fault_problem(fault: Fault) -> str | None:
    if fault.after_requests < 0:
        return f"after_requests must be >= 0, got {fault.after_requests}"
    if fault.kind in FIRMWARE_FAULTS and fault.after_requests:
        return "acts on firmware transfers and boots and takes no after_requests"
    if fault.kind in AUTH_FAULTS and fault.after_requests:
        return "acts on the next key command and takes no after_requests"
    if fault.kind is FaultKind.EXCEPTION and not 1 <= fault.code <= MAX_EXCEPTION_CODE:
        return f"exception code must be in 1..{MAX_EXCEPTION_CODE}, got {fault.code}"
    if extra := [f.name for f in fields(fault)[2:] if getattr(fault, f.name) != f.default
                 and f.name not in KIND_PARAMETERS[fault.kind]]:
        return f"takes no {', '.join(extra)}"
    if fault.kind is FaultKind.LATENCY:
        return _latency_problem(fault)
    if fault.kind in FIRMWARE_FAULTS:
        return _firmware_problem(fault)
    if fault.kind in APPLY_FAULTS:
        return _apply_problem(fault)
    bad_window = fault.start_s < 0 or (fault.duration_s is not None and fault.duration_s <= 0)
    if fault.kind is FaultKind.OFFLINE and bad_window:
        return f"needs start_s >= 0 and duration_s > 0, got {fault.start_s} and {fault.duration_s}"
    return None


def _firmware_problem(fault: Fault) -> str | None:
    for name in ("chunk", "after_chunks"):
        value = getattr(fault, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} must be an int >= 0, got {value!r}"
    if not isinstance(fault.persistent, bool):
        return f"persistent must be true or false, got {fault.persistent!r}"
    return None


def _apply_problem(fault: Fault) -> str | None:
    delay = fault.delay_s
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 < delay <= MAX_LATE_ANSWER_S:
        return f"delay_s must be a number in (0, {MAX_LATE_ANSWER_S}], got {delay!r}"
    roles = fault.roles
    if not isinstance(roles, tuple) or not all(isinstance(r, str) and r for r in roles) or len(set(roles)) < len(roles):
        return f"roles must be a list of distinct role names, got {roles!r}"
    times = fault.times
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        return f"times must be an int >= 1 (or left out: every write), got {times!r}"
    return None


def _latency_problem(fault: Fault) -> str | None:
    if not 0 <= fault.min_s <= fault.max_s or not math.isfinite(fault.max_s):
        return f"needs 0 <= min_s <= max_s, got {fault.min_s} and {fault.max_s}"
    if fault.distribution not in LATENCY_DISTRIBUTIONS:
        return f"distribution must be one of {LATENCY_DISTRIBUTIONS}, got {fault.distribution!r}"
    if fault.distribution == "lognormal" and not (fault.median_s > 0 and fault.sigma > 0):
        return f"lognormal needs median_s > 0 and sigma > 0, got {fault.median_s} and {fault.sigma}"
    if fault.distribution == "uniform" and (fault.median_s or fault.sigma):
        return "uniform takes no median_s or sigma"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectedFault:
    """A fault, the device's request count when it was injected, and when it was armed."""

    fault: Fault
    requests_before: int
    armed_at: float

    def hits(self, *, requests: int, now: float) -> bool:
        if self.fault.kind in MODEL_FAULTS | APPLY_FAULTS:
            return False  # the device's model applies these (ambiguous writes: once the write is applied)
        if self.fault.kind is FaultKind.OFFLINE:
            return self.fault.offline_at(now - self.armed_at)
        return self.fault.hits(request_number=requests - self.requests_before)
