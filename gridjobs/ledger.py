"""A runner's view of its per-device outcomes, rebuilt from Postgres on resume."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from gridjobs.records import Outcome
from gridjobs.states import OutcomeState


class Ledger:
    def __init__(self, outcomes: Iterable[Outcome] = ()) -> None:
        self._outcomes: dict[str, Outcome] = {o.device_id: o for o in outcomes}

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._outcomes

    def get(self, device_id: str) -> Outcome:
        return self._outcomes[device_id]

    def __len__(self) -> int:
        return len(self._outcomes)

    def outcomes(self) -> Iterable[Outcome]:
        """Every device's outcome, unsorted: `ids` sorts by entry, which a sum over 10,000
        outcomes does not need."""
        return self._outcomes.values()

    def all_ids(self) -> list[str]:
        return [d for _, d in sorted((o.seq, d) for d, o in self._outcomes.items())]

    def ids(self, *steps: str, state: OutcomeState | None = None) -> list[str]:
        """Device ids at any of `steps` (and `state`), in the order they entered the ledger."""
        found = [(o.seq, d) for d, o in self._outcomes.items()
                 if o.step in steps and (state is None or o.state == state)]
        return [d for _, d in sorted(found)]

    def set(self, device_id: str, **fields: Any) -> Outcome:
        """Change a device's outcome (a new device enters as pending); return it, to record."""
        current = self._outcomes.get(device_id)
        if current is None:
            current = Outcome(device_id, OutcomeState.PENDING, "", seq=len(self._outcomes))
        outcome = current.changed(**fields)
        self._outcomes[device_id] = outcome
        return outcome

    def attempts(self, device_id: str) -> int:
        outcome = self._outcomes.get(device_id)
        return outcome.attempts if outcome else 0

    def data(self, device_id: str) -> dict[str, Any]:
        """A copy of the device's notes, to change and `set`."""
        outcome = self._outcomes.get(device_id)
        return dict(outcome.data) if outcome else {}

    def notes(self, device_id: str) -> Mapping[str, Any]:
        """The device's notes, to read only: no copy (a large shed reads 10,000 of them
        several times a step)."""
        outcome = self._outcomes.get(device_id)
        return outcome.data if outcome else {}

    def count(self, *, state: OutcomeState | None = None, steps: tuple[str, ...] = (),
              code: str | None = None) -> int:
        return sum(
            1 for o in self._outcomes.values()
            if (state is None or o.state == state) and (not steps or o.step in steps)
            and (code is None or o.code == code)
        )
