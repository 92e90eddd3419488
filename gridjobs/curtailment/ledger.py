"""The curtailment engine's ledger.

The steps a device goes through: `survey` (only if the survey failed),
`curtail` (command sent and its result not yet recorded, or a command that
failed), `curtailed`, `restore` (restore failed), `restored`.
"""

from __future__ import annotations

from actors.step_names import Step
from gridjobs.ledger import Ledger
from gridjobs.states import OutcomeState

SURVEY, CURTAIL, RESTORE = Step.SURVEY, Step.CURTAIL, Step.RESTORE
CURTAILED, RESTORED = "curtailed", "restored"
SHED_STEPS = (CURTAILED, RESTORE, RESTORED)
ALL_STEPS = (SURVEY, CURTAIL, *SHED_STEPS)


class CurtailmentLedger(Ledger):
    def commanded(self) -> list[str]:
        """Devices a command may have reached, in ledger order: those that took one,
        those whose answer was lost, and those sent one before a restart whose result
        was never recorded. Every restore and the final sweep cover all of them."""
        return [d for d in self.ids(*ALL_STEPS) if self.notes(d).get("commanded") or self.unanswered(d)]

    def unanswered(self, device_id: str) -> bool:
        outcome = self.get(device_id)
        return outcome.step == CURTAIL and outcome.state == OutcomeState.RUNNING

    def restored(self, device_id: str) -> bool:
        return self.get(device_id).step == RESTORED or bool(self.notes(device_id).get("restored"))

    def shed(self) -> list[str]:
        """Devices verified curtailed at some point (their reduction was measured)."""
        return [d for d in self.ids(*SHED_STEPS) if "reduction_kw" in self.notes(d)]

    def reduction_kw(self) -> float:
        """Reduction measured on devices that currently hold a command."""
        return sum(o.data.get("reduction_kw", 0.0) for o in self.outcomes()
                   if o.step in SHED_STEPS and o.state == OutcomeState.SUCCEEDED)
