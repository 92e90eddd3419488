"""Stable placement of devices on shards: the same id lands on the same shard
in every process and every run (Python's hash() is salted, so not that)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")


def shard_for(device_id: str, shards: int) -> int:
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    digest = hashlib.blake2b(device_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def group_by_shard(items: Iterable[T], key: Callable[[T], str], shards: int) -> dict[int, list[T]]:
    if shards == 1:   # every id lands on shard 0: no digest per item (10,000 of them a step)
        every = list(items)
        return {0: every} if every else {}
    groups: dict[int, list[T]] = defaultdict(list)
    for item in items:
        groups[shard_for(key(item), shards)].append(item)
    return dict(groups)
