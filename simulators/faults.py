"""Injected faults: what a device does to a request instead of answering it normally."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_EXCEPTION_CODE = 0xFF
DEFAULT_EXCEPTION_CODE = 4  # SLAVE/DEVICE FAILURE


class FaultKind(enum.StrEnum):
    TIMEOUT = "timeout"  # never answer; the client must time out
    EXCEPTION = "exception"  # answer with a Modbus exception response
    DROP = "drop"  # close the TCP connection the request came in on


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A fault that hits every request to the device after the first ``after_requests`` ones."""

    kind: FaultKind
    after_requests: int = 0
    code: int = 0

    def __post_init__(self) -> None:
        if self.after_requests < 0:
            raise ValueError(f"after_requests must be >= 0, got {self.after_requests}")
        if self.kind is FaultKind.EXCEPTION and not 1 <= self.code <= MAX_EXCEPTION_CODE:
            raise ValueError(f"exception code must be in 1..{MAX_EXCEPTION_CODE}, got {self.code}")
        if self.kind is not FaultKind.EXCEPTION and self.code:
            raise ValueError(f"a {self.kind} fault takes no exception code")

    @classmethod
    def timeout(cls, *, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.TIMEOUT, after_requests=after_requests)

    @classmethod
    def exception(cls, *, code: int = DEFAULT_EXCEPTION_CODE, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.EXCEPTION, code=code, after_requests=after_requests)

    @classmethod
    def drop(cls, *, after_requests: int = 0) -> Fault:
        return cls(kind=FaultKind.DROP, after_requests=after_requests)

    def hits(self, *, request_number: int) -> bool:
        """Whether the ``request_number``-th request since injection (1-based) is hit."""
        return request_number > self.after_requests


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectedFault:
    """A fault and the device's request count at the moment it was injected."""

    fault: Fault
    requests_before: int

    def hits(self, *, requests: int) -> bool:
        return self.fault.hits(request_number=requests - self.requests_before)
