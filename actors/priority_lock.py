"""The priorities of a shard's per-device lock (adapters.PriorityLock).

A firmware transfer takes the device's lock per chunk at low priority; a
curtailment takes it at high priority, so a shed waits at most one chunk.
"""

from __future__ import annotations

from adapters.priority_lock import NORMAL, PriorityLock

HIGH = 0   # curtail, refresh, restore: grid safety first
LOW = 9    # bulk work such as firmware chunks

__all__ = ["HIGH", "LOW", "NORMAL", "PriorityLock"]
