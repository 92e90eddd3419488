"""A runner's view of its per-device outcomes, rebuilt from Postgres on resume."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from gridjobs.records import Outcome
from gridjobs.store.leases import OutcomeWrite

@dataclass(frozen=True)
class Entry:
    state: str
    step: str
    seq: int
    attempts: int = 0
    code: str | None = None
    detail: str | None = None
    data: dict[str, Any] | None = None

    def write(self, device_id: str) -> OutcomeWrite:
        return OutcomeWrite(device_id, self.state, self.step, self.seq, self.code,
                            self.detail, self.attempts, self.data or {})


class Ledger:
    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        self._entries: dict[str, Entry] = {
            o.device_id: Entry(o.state, o.step, o.seq, o.attempts, o.code, o.detail, o.data)
            for o in outcomes
        }

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._entries

    def get(self, device_id: str) -> Entry:
        return self._entries[device_id]

    def __len__(self) -> int:
        return len(self._entries)

    def all_ids(self) -> list[str]:
        return [d for _, d in sorted((e.seq, d) for d, e in self._entries.items())]

    def ids(self, *steps: str, state: str | None = None) -> list[str]:
        """Device ids at any of `steps` (and `state`), in the order they entered the ledger."""
        found = [(e.seq, d) for d, e in self._entries.items()
                 if e.step in steps and (state is None or e.state == state)]
        return [d for _, d in sorted(found)]

    def set(self, device_id: str, **fields: Any) -> OutcomeWrite:
        current = self._entries.get(device_id)
        if current is None:
            current = Entry(state="pending", step="", seq=len(self._entries))
        entry = replace(current, **fields)
        self._entries[device_id] = entry
        return entry.write(device_id)

    def attempts(self, device_id: str) -> int:
        entry = self._entries.get(device_id)
        return entry.attempts if entry else 0

    def data(self, device_id: str) -> dict[str, Any]:
        entry = self._entries.get(device_id)
        return dict(entry.data or {}) if entry else {}

    def count(self, *, state: str | None = None, steps: tuple[str, ...] = ()) -> int:
        return sum(
            1 for e in self._entries.values()
            if (state is None or e.state == state) and (not steps or e.step in steps)
        )
