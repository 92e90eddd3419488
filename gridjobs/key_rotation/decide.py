"""The next move of one device's rotation: a pure function of what the device
reports (its key slots) and the versions the operation works with.

Reading the device first is what makes a resumed rotation safe: it tells
"staged but not active" from "active but not confirmed" whatever the last
recorded step was.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGE, VERIFY, ACTIVATE, CONFIRM, RETIRE, REVERT, ABORT_PENDING = 1, 2, 3, 4, 5, 6, 7
VERIFIED = 2


@dataclass(frozen=True)
class Slots:
    active: int
    pending: int        # 0: none
    previous: int       # 0: none
    pending_state: int  # 0 empty, 1 staged, 2 verified


@dataclass(frozen=True)
class Move:
    step: str           # stage | verify | activate | confirm | retire | done | revert | abort | stuck
    command: int | None
    mac_version: int | None  # which key authenticates the command
    version: int | None      # the command's version argument


def next_move(slots: Slots, *, old: int, new: int, confirmed: bool) -> Move:
    """Forward when all is well; `rollback` moves come from `undo`."""
    if slots.active == old and slots.pending != new:
        return Move("stage", STAGE, old, new)
    if slots.active == old and slots.pending_state != VERIFIED:
        return Move("verify", VERIFY, new, new)
    if slots.active == old:
        return Move("activate", ACTIVATE, old, new)
    if slots.active == new and slots.previous == old and not confirmed:
        return Move("confirm", CONFIRM, new, new)
    if slots.active == new and slots.previous == old:
        return Move("retire", RETIRE, new, old)
    if slots.active == new and slots.previous == 0:
        return Move("done", None, None, None)
    return Move("stuck", None, None, None)


def undo(slots: Slots, *, old: int, new: int) -> Move:
    """Back to the old key: before activation drop the pending key, after it revert."""
    if slots.active == new and slots.previous == old:
        return Move("revert", REVERT, old, new)
    if slots.active == old and slots.pending:
        return Move("abort", ABORT_PENDING, old, new)
    if slots.active == old:
        return Move("done", None, None, None)
    return Move("stuck", None, None, None)
