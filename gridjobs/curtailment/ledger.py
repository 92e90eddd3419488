"""The curtailment engine's ledger.

Steps a device goes through: `survey` (only if the survey failed),
`curtail` (command sent, result not yet recorded), `curtailed`, `restore`
(restore failed), `restored`.
"""

from __future__ import annotations

from gridjobs.ledger import Ledger
from gridjobs.states import OutcomeState

SHED_STEPS = ("curtailed", "restore", "restored")
ALL_STEPS = ("survey", "curtail", *SHED_STEPS)


class CurtailmentLedger(Ledger):
    def commanded(self) -> list[str]:
        """Devices that took a command at least once, in ledger order."""
        return [d for d in self.ids(*ALL_STEPS) if self.data(d).get("commanded")]

    def reduction_kw(self) -> float:
        """Reduction measured on devices that currently hold a command."""
        return sum(self.data(d).get("reduction_kw", 0.0) for d in self.ids(*SHED_STEPS)
                   if self.get(d).state == OutcomeState.SUCCEEDED)

