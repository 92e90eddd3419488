"""Bringing a curtailment's devices back, and checking that they are back.

The staged restore covers every device a command may have reached (see
`CurtailmentLedger.commanded`). Then a sweep reads each of them: a device that
still reads curtailed, or cannot be read, gets another restore, and whatever
is still not back after that is reported as `left_curtailed`, with the time
its dead-man timer releases it. The result never says "restored" for a device
that was not read back normal.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable

from actors.step_names import Step
from actors.tasks import DeviceResult, DeviceTask
from gridjobs.curtailment.ledger import RESTORE, RESTORED, SHED_STEPS, CurtailmentLedger
from gridjobs.curtailment.stages import restore_stages
from gridjobs.records import Outcome
from gridjobs.run.command_keys import audit_commands
from gridjobs.run.context import RunContext
from gridjobs.run.ports import CommandKeys
from gridjobs.states import CANCELLED_CODE, OutcomeState

SWEEP_RESTORES = 2        # extra restore rounds for devices the sweep finds not back
SWEEP_PAUSE_S = 1.0       # between such rounds, so a device mid-reconnect can answer

Task = Callable[..., DeviceTask]


class Restorer:
    def __init__(self, ctx: RunContext, ledger: CurtailmentLedger, task: Task,
                 command_keys: CommandKeys, *, stages: int, stage_delay_s: float,
                 revert_timeout_s: int) -> None:
        self.ctx, self.ledger, self.task, self.command_keys = ctx, ledger, task, command_keys
        self.stages, self.stage_delay_s, self.revert_timeout_s = stages, stage_delay_s, revert_timeout_s

    async def run(self) -> list[dict[str, Any]]:
        """Restore in stages, sweep, restore again what is not back; return what is left curtailed."""
        await self._staged()
        left = await self._sweep()
        for _ in range(SWEEP_RESTORES):
            if not left:
                break
            await asyncio.sleep(SWEEP_PAUSE_S)
            await self._restore(0, [entry["device_id"] for entry in left])
            left = await self._sweep()
        return left

    async def _staged(self) -> None:
        # Last curtailed first; every device a command may have reached.
        devices = list(reversed(self.ledger.commanded()))
        for index, stage in enumerate(restore_stages(devices, self.stages) if devices else []):
            todo = [d for d in stage if not self.ledger.restored(d)]
            if not todo:
                continue
            if index > 0:  # the delay holds on cancel too: it protects the feeder
                await asyncio.sleep(self.stage_delay_s)
            await self._restore(index, todo)

    async def _restore(self, index: int, todo: list[str]) -> None:
        results = await self.ctx.execute(Step.RESTORE, [self.task(d) for d in todo])
        await audit_commands(self.ctx, Step.RESTORE, results, self.command_keys)
        await self.ctx.record([self._restored(index, r) for r in results])
        self.ctx.log.info("restore_stage", stage=index + 1, devices=len(todo), ok=sum(r.ok for r in results))

    def _restored(self, index: int, result: DeviceResult) -> Outcome:
        device_id = result.device_id
        data = {**self.ledger.notes(device_id), "restore_stage": index + 1, "restored": result.ok}
        if not result.ok:
            self.ctx.log.warning("device_failed", device_id=device_id, step=RESTORE,
                                 code=result.code, detail=result.detail)
        if self.ledger.get(device_id).step not in SHED_STEPS:
            return self._restored_unverified(result, data)
        if result.ok:
            return self.ledger.set(device_id, state=OutcomeState.SUCCEEDED, step=RESTORED, code=None,
                                   detail=None, data=data)
        return self.ledger.set(
            device_id, state=OutcomeState.FAILED, step=RESTORE, code=result.code, data=data,
            detail=f"restore failed ({result.detail}); its revert timer restores it within "
                   f"{self.revert_timeout_s} s")

    def _restored_unverified(self, result: DeviceResult, data: dict[str, Any]) -> Outcome:
        """A device whose command failed or went unanswered: its outcome keeps its own
        code; the restore is noted beside it. One still running (sent before a restart
        and never answered) gets its verdict here."""
        outcome = self.ledger.get(result.device_id)
        if outcome.state != OutcomeState.RUNNING:
            return self.ledger.set(result.device_id, data=data)
        if result.ok:
            return self.ledger.set(result.device_id, state=OutcomeState.CANCELLED, code=CANCELLED_CODE,
                                   detail="a command may have reached it before a restart; restored",
                                   data=data)
        return self.ledger.set(result.device_id, state=OutcomeState.FAILED, code=result.code,
                               detail=result.detail, data=data)

    async def _sweep(self) -> list[dict[str, Any]]:
        """Read every device a command may have reached; those not back to normal."""
        devices = self.ledger.commanded()
        results = await self.ctx.execute(Step.SWEEP, [self.task(d) for d in devices])
        left = [_left(r) for r in results if not (r.ok and r.values.get("normal"))]
        back = [r.device_id for r in results if r.ok and r.values.get("normal")]
        await self.ctx.record([self._back(d) for d in back if not self.ledger.restored(d)])
        if left:
            self.ctx.log.warning("left_curtailed", devices=[e["device_id"] for e in left][:20])
        return left

    def _back(self, device_id: str) -> Outcome:
        """A device whose restore failed (or never ran) that reads back normal: its own
        revert timer, or a late restore, brought it back."""
        data = {**self.ledger.notes(device_id), "restored": True}
        if self.ledger.get(device_id).step in SHED_STEPS:
            return self.ledger.set(device_id, state=OutcomeState.SUCCEEDED, step=RESTORED, code=None,
                                   detail="read back normal after its restore failed", data=data)
        return self.ledger.set(device_id, data=data)


def _left(result: DeviceResult) -> dict[str, Any]:
    release_by = result.values.get("release_by")
    return {
        "device_id": result.device_id,
        "setpoint_pct": result.values.get("setpoint_pct"),
        "reads": "curtailed" if result.ok else f"unreadable ({result.code})",
        "release_by": datetime.fromtimestamp(release_by, timezone.utc).isoformat() if release_by else None,
    }
