"""ShardTotals: Modbus request counts per gateway, summed over shards and their restarts.

A shard counts in its own memory, so a restarted shard starts again from
zero. Each pull tells which incarnation answered; when it changes, the last
counts seen from the old one are kept, so the totals only ever grow. What the
old incarnation counted after that last pull is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import add
from typing import Mapping

from adapters import RequestCounts


@dataclass
class _Shard:
    incarnation: str
    current: dict[str, RequestCounts]
    past: dict[str, RequestCounts] = field(default_factory=dict)  # earlier incarnations, summed


class ShardTotals:
    def __init__(self) -> None:
        self._shards: dict[int, _Shard] = {}

    def update(self, index: int, incarnation: str, gateways: Mapping[str, RequestCounts]) -> bool:
        """Take one shard's counts; True if it is a new incarnation of a shard seen before."""
        seen = self._shards.get(index)
        if seen is not None and seen.incarnation == incarnation:
            seen.current = dict(gateways)
            return False
        past = _summed([seen.past, seen.current]) if seen is not None else {}
        self._shards[index] = _Shard(incarnation, dict(gateways), past)
        return seen is not None

    def totals(self) -> dict[str, RequestCounts]:
        return _summed([part for s in self._shards.values() for part in (s.past, s.current)])


def _summed(parts: list[Mapping[str, RequestCounts]]) -> dict[str, RequestCounts]:
    gateways = {g for part in parts for g in part}
    return {g: reduce(add, (part[g] for part in parts if g in part)) for g in sorted(gateways)}
