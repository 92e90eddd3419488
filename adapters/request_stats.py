"""Counts of a gateway session's requests: latency of answers, timeouts, faults.

`RequestStats` is what a session updates, cheaply, on every request.
`RequestCounts` is its plain, frozen snapshot: it crosses process boundaries
(a shard reports it) and adds up (many shards talk to one gateway).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

from .errors import FaultCode

# Upper bounds (seconds) of the answer-latency buckets; one more bucket holds the rest.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _empty_buckets() -> tuple[int, ...]:
    return (0,) * (len(LATENCY_BUCKETS_S) + 1)


@dataclass(frozen=True)
class RequestCounts:
    requests: int = 0                    # every request that was tried
    answered: int = 0                    # the device answered (a Modbus exception included)
    seconds_sum: float = 0.0             # total latency of the answered ones
    buckets: tuple[int, ...] = field(default_factory=_empty_buckets)  # answered, per bucket
    timeouts: int = 0                    # no answer within the request timeout
    errors: Mapping[str, int] = field(default_factory=dict)  # fault code -> count, timeouts included

    def __add__(self, other: "RequestCounts") -> "RequestCounts":
        return RequestCounts(
            self.requests + other.requests, self.answered + other.answered,
            self.seconds_sum + other.seconds_sum,
            tuple(a + b for a, b in zip(self.buckets, other.buckets)),
            self.timeouts + other.timeouts, dict(Counter(self.errors) + Counter(other.errors)),
        )


class RequestStats:
    def __init__(self) -> None:
        self._buckets = list(_empty_buckets())
        self._errors: Counter[str] = Counter()
        self._requests = self._answered = 0
        self._seconds = 0.0

    def answered(self, seconds: float, *, fault: FaultCode | None = None) -> None:
        """The device answered after `seconds`; `fault`: with a Modbus exception, say."""
        self._requests += 1
        self._answered += 1
        self._seconds += seconds
        self._buckets[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        if fault is not None:
            self._errors[fault.value] += 1

    def failed(self, code: FaultCode) -> None:
        """A request that got no usable answer: a timeout, a refused or dropped connection."""
        self._requests += 1
        self._errors[code.value] += 1

    def counts(self) -> RequestCounts:
        return RequestCounts(self._requests, self._answered, self._seconds, tuple(self._buckets),
                             self._errors[FaultCode.DEVICE_TIMEOUT.value], dict(self._errors))
