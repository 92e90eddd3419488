"""One batch of devices through the firmware stages, one shard call per stage.

Every stage is recorded before and after it runs, so a resumed rollout starts
each device at the stage after its last completed one; every stage is safe
to repeat. Once a device is activated it is always followed to its confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.step_names import Step
from actors.tasks import DeviceResult
from adapters import IDLE_STATES, FaultCode, FirmwareState, Role
from gridjobs.ledger import Ledger
from gridjobs.records import Device, Outcome
from gridjobs.rollout.params import FirmwareRolloutParams
from gridjobs.run.context import RunContext, device_task
from gridjobs.run.ports import CommandKeys
from gridjobs.run.retry import RetryRule
from gridjobs.states import CANCELLED_CODE, VERDICTS, OutcomeState

STAGES = (Step.FW_PRECHECK, Step.FW_TRANSFER, Step.FW_VERIFY, Step.FW_ACTIVATE, Step.FW_CONFIRM)
# Before activation a device can stop anywhere; once activated it is confirmed.
STOPPABLE = (Step.FW_PRECHECK, Step.FW_TRANSFER, Step.FW_VERIFY, Step.FW_ACTIVATE)
STOPPED_BEFORE = {
    Step.FW_PRECHECK: "before it was touched",
    Step.FW_TRANSFER: "after the precheck, before any transfer",
    Step.FW_VERIFY: "after the transfer, before verification (image staged in the inactive bank)",
    Step.FW_ACTIVATE: "after transfer and verify, before activation (image staged in the "
                      "inactive bank, not activated)",
}


@dataclass(frozen=True)
class Image:
    artifact_id: str
    version: str
    size: int
    crc32: int


class BatchPipeline:
    def __init__(self, ctx: RunContext, ledger: Ledger, devices: dict[str, Device],
                 params: FirmwareRolloutParams, image: Image, command_keys: CommandKeys) -> None:
        self.ctx, self.ledger, self.devices = ctx, ledger, devices
        self.params, self.image = params, image
        self.command_keys = command_keys
        self.retry = RetryRule(max_attempts=params.retries + 1)

    def next_stage(self, device_id: str) -> str | None:
        """The stage a device needs next; None once it has a verdict."""
        if device_id not in self.ledger:
            return STAGES[0]
        entry = self.ledger.get(device_id)
        if entry.state in VERDICTS:
            return None
        done = self.ledger.data(device_id).get("completed")
        return STAGES[0] if done is None else STAGES[STAGES.index(done) + 1]

    async def run(self, batch: tuple[str, ...]) -> None:
        for stage in STAGES:
            todo = [d for d in batch if self.next_stage(d) == stage]
            if not todo:
                continue
            if self.ctx.cancelled and stage in STOPPABLE:
                await self._stop(todo, before=stage)
                continue
            await self._stage(stage, todo)

    async def _stage(self, stage: str, todo: list[str]) -> None:
        await self.ctx.record([self.ledger.set(d, state=OutcomeState.RUNNING, step=stage,
                                               attempts=self.ledger.attempts(d) + 1) for d in todo])
        results = await self._with_retries(stage, todo)
        if stage == Step.FW_VERIFY:
            results = await self._resend_mismatched(results)
        await self.ctx.record([self._after(stage, r) for r in results])

    async def _with_retries(self, stage: str, todo: list[str]) -> list[DeviceResult]:
        results = {r.device_id: r for r in await self._call(stage, todo)}
        if stage == Step.FW_CONFIRM:  # confirm already waits out the reboot
            return list(results.values())
        for attempt in range(1, self.retry.max_attempts):
            again = [d for d, r in results.items() if not r.ok and self.retry.should_retry(r.code, attempt)]
            if not again:
                break
            results.update((r.device_id, r) for r in await self._call(stage, again))
        return list(results.values())

    async def _resend_mismatched(self, results: list[DeviceResult]) -> list[DeviceResult]:
        """On a CRC mismatch, send the whole image once more, then verify again."""
        bad = [r.device_id for r in results if r.code == FaultCode.CRC_MISMATCH]
        if not bad:
            return results
        self.ctx.log.warning("crc_mismatch_resend", devices=bad[:20])
        await self._call(Step.FW_TRANSFER, bad, from_zero=True)
        again = {r.device_id: r for r in await self._call(Step.FW_VERIFY, bad)}
        return [again.get(r.device_id, r) for r in results]

    async def _call(self, stage: str, device_ids: list[str], **extra: Any) -> list[DeviceResult]:
        image, p = self.image, self.params
        args = {"artifact_id": image.artifact_id, "version": image.version, "size": image.size,
                "crc32": image.crc32, "deadline_s": p.device_timeout_s, **extra}
        return await self.ctx.execute(stage, [
            device_task(self.devices[d], self._with_key(d, args)) for d in device_ids])

    def _with_key(self, device_id: str, args: dict[str, Any]) -> dict[str, Any]:
        """Devices that authenticate critical commands get their key (activation is one)."""
        key = self.command_keys.get(device_id)
        return {**args, "key": key} if key is not None else args

    def _after(self, stage: str, result: DeviceResult) -> Outcome:
        d = result.device_id
        data = {**self.ledger.data(d), **result.values}
        if not result.ok:
            return self.ledger.set(d, state=OutcomeState.FAILED, step=stage, code=result.code,
                                   detail=result.detail, data=data)
        if stage == Step.FW_PRECHECK and self._already_current(result.values):
            return self.ledger.set(d, state=OutcomeState.SUCCEEDED, step=stage,
                                   code=FaultCode.ALREADY_CURRENT,
                                   detail=f"already running {self.image.version}; not touched",
                                   data=data)
        if stage == Step.FW_PRECHECK:
            data["old_version"] = result.values.get(Role.FIRMWARE_VERSION)
            if self._awaiting_confirm(result.values):  # activated before a restart
                return self.ledger.set(d, step=stage, data={**data, "completed": Step.FW_ACTIVATE})
        if stage == Step.FW_CONFIRM:
            return self.ledger.set(d, state=OutcomeState.SUCCEEDED, step=stage, code=None,
                                   detail=f"running {self.image.version}", data=data)
        return self.ledger.set(d, step=stage, code=None, detail=None, data={**data, "completed": stage})

    def _already_current(self, values: dict) -> bool:
        return (values.get(Role.FIRMWARE_VERSION) == self.image.version
                and int(values.get(Role.FW_STATE, FirmwareState.IDLE)) in IDLE_STATES)

    def _awaiting_confirm(self, values: dict) -> bool:
        return (values.get(Role.FIRMWARE_VERSION) == self.image.version
                and int(values.get(Role.FW_STATE, FirmwareState.IDLE)) == FirmwareState.PENDING_CONFIRM)

    async def _stop(self, todo: list[str], *, before: str) -> None:
        where = STOPPED_BEFORE[before]
        await self.ctx.record([self.ledger.set(
            d, state=OutcomeState.CANCELLED, code=CANCELLED_CODE,
            detail=f"cancelled {where}; the device still runs its old version") for d in todo])
