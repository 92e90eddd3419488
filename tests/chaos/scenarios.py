"""Several kinds at once on one fleet, with faults injected: a chaos subject like a kind.

Each part keeps its own feeders, operations and invariants; the fleet holds every
part's group, and `faults` are injected into it by device id before it serves.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from simulators import Fault, Fleet
from tests.chaos.kinds import Kind, fleet_of
from tests.chaos.truth import Truth


def merged(truths: Sequence[Truth]) -> Truth:
    total = Truth()
    for truth in truths:
        total.duplicated |= truth.duplicated
        total.left_curtailed |= truth.left_curtailed
        total.locked_out |= truth.locked_out
        total.other |= truth.other
        total.notes += truth.notes
    return total


class Scenario:
    def __init__(self, name: str, parts: Sequence[Kind], faults: Mapping[str, Fault]) -> None:
        self.name, self.parts, self.faults = name, tuple(parts), dict(faults)
        self.feeders = tuple(f for part in parts for f in part.feeders)
        self.group: dict[str, Any] = {}
        self.horizon_s = max(part.horizon_s for part in parts)
        self.writes_per_device = min(part.writes_per_device for part in parts)
        self.unexercised: set[str] = set()  # faulty devices whose fault never acted in the last run
        self.last_fleet: Fleet | None = None

    def fleet(self, seed: int) -> Fleet:
        fleet = fleet_of(seed, self.parts)
        for device_id, fault in self.faults.items():
            fleet.inject(device_id, fault)
        self.last_fleet = fleet
        return fleet

    async def bodies(self, client, fleet, run):
        return [body for part in self.parts for body in await part.bodies(client, fleet, run)]

    async def truth(self, fleet, marks, ops, run):
        self.unexercised = {d for d in self.faults if not fleet.device(d).counters.faults_injected}
        return merged([await part.truth(fleet, marks, ops, run) for part in self.parts])
