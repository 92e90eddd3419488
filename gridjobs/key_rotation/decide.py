"""The next move of one device's rotation: a pure function of what the device
reports (its key slots, `adapters.KeySlots`) and the versions the operation
works with.

Reading the device first is what makes a resumed rotation safe: it tells
"staged but not active" from "active but not confirmed" whatever the last
recorded step was.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters import KeyOp, KeySlots, PendingState


@dataclass(frozen=True)
class Move:
    step: str           # stage | verify | activate | confirm | retire | done | revert | abort | stuck
    command: KeyOp | None
    mac_version: int | None  # which key authenticates the command
    version: int | None      # the command's version argument


DONE = Move("done", None, None, None)
STUCK = Move("stuck", None, None, None)


def next_move(slots: KeySlots, *, old: int, new: int, confirmed: bool) -> Move:
    """Forward when all is well; `rollback` moves come from `undo`."""
    if slots.active == old and slots.pending != new:
        return Move("stage", KeyOp.STAGE, old, new)
    if slots.active == old and slots.pending_state != PendingState.VERIFIED:
        return Move("verify", KeyOp.VERIFY, new, new)
    if slots.active == old:
        return Move("activate", KeyOp.ACTIVATE, old, new)
    if slots.active == new and slots.previous == old and not confirmed:
        return Move("confirm", KeyOp.CONFIRM, new, new)
    if slots.active == new and slots.previous == old:
        return Move("retire", KeyOp.RETIRE, new, old)
    if slots.active == new and slots.previous is None:
        return DONE
    return STUCK


def undo(slots: KeySlots, *, old: int, new: int) -> Move:
    """Back to the old key: before activation drop the pending key, after it revert."""
    if slots.active == new and slots.previous == old:
        return Move("revert", KeyOp.REVERT, old, old)  # names the key that becomes active again
    if slots.active == old and slots.pending is not None:
        return Move("abort", KeyOp.ABORT_PENDING, old, new)
    if slots.active == old:
        return DONE
    return STUCK
