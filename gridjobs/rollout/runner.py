"""Carry out a firmware rollout: waves of batches, gated, abortable, resumable.

Between batches the runner asks the pure abort rule; between waves it soaks
and, for a manual rollout, pauses until resumed. The checkpoint holds the
wave plan and the image's CRC, so a restart follows the same plan.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Iterable
from uuid import UUID

from adapters import FaultCode
from gridjobs.event_types import EventType
from gridjobs.ledger import Ledger
from gridjobs.records import Device, FirmwareArtifact
from gridjobs.rollout.params import FirmwareRolloutParams
from gridjobs.rollout.pipeline import BatchPipeline, Image
from gridjobs.rollout.planner import plan_waves
from gridjobs.run.command_keys import command_keys
from gridjobs.run.context import Finish, RunContext
from gridjobs.run.gating import Tally, batches, should_abort
from gridjobs.states import CANCELLED_CODE, OutcomeState, Status
from gridjobs.store.firmware_rows import STORAGE_CHUNK_BYTES


class RolloutRun:
    def __init__(self, ctx: RunContext, params: FirmwareRolloutParams) -> None:
        self.ctx, self.params = ctx, params
        self.ledger = Ledger()
        self.devices: dict[str, Device] = {}

    async def run(self) -> Finish:
        ctx = self.ctx
        self.ledger = Ledger(await ctx.lease.outcomes())
        image = await self._image()
        if "waves" not in ctx.checkpoint:
            targets = await self._targets(image)
            await ctx.save_checkpoint(waves=plan_waves(targets, self.params.waves), wave=0)
        waves = [tuple(w) for w in ctx.checkpoint["waves"]]
        self.devices = {d.id: d for d in await ctx.devices.by_ids([x for w in waves for x in w])}
        keys = await command_keys(ctx, self.devices.values())
        pipeline = BatchPipeline(ctx, self.ledger, self.devices, self.params, image, keys)
        if ctx.operation.status == Status.PAUSED and not await ctx.pause_until_resumed():
            await self._cancel_queued(waves, aborted=False)  # taken over while paused, then cancelled
            return self._finish(waves, aborted=False)
        aborted = await self._waves(waves, pipeline)
        await self._cancel_queued(waves, aborted)
        return self._finish(waves, aborted)

    async def _image(self) -> Image:
        artifact = await self.ctx.firmware.artifact(self.params.firmware_id)
        if "crc32" not in self.ctx.checkpoint:
            await self.ctx.save_checkpoint(crc32=await self._crc32(artifact.id, artifact.size))
        return Image(str(artifact.id), artifact.version, artifact.size, self.ctx.checkpoint["crc32"])

    async def _crc32(self, artifact_id: UUID, size: int) -> int:
        crc = 0
        for offset in range(0, size, STORAGE_CHUNK_BYTES):
            piece = await self.ctx.firmware.read(artifact_id, offset,
                                                 min(STORAGE_CHUNK_BYTES, size - offset))
            crc = zlib.crc32(piece, crc)
        return crc

    async def _targets(self, image: Image) -> list[str]:
        artifact = await self.ctx.firmware.artifact(UUID(image.artifact_id))
        return rollout_targets(await self.ctx.devices.in_scope(self.params.scope), artifact)

    async def _waves(self, waves: list[tuple[str, ...]], pipeline: BatchPipeline) -> bool:
        """Run waves from the checkpointed one on; return True if the rollout aborted."""
        for index in range(self.ctx.checkpoint["wave"], len(waves)):
            await self._announce_wave(index, waves)
            for batch in batches(waves[index], self.params.max_parallel):
                if self.ctx.cancelled:
                    return False
                await pipeline.run(batch)
                if self._abort():
                    await self._aborted(index, "abort_threshold")
                    return True
            self.ctx.log.info("wave_done", wave=index + 1, of=len(waves), **vars(self._tally()))
            if self._wave_failed(waves[index]):  # the next wave needs this one's success ratio
                await self._aborted(index, "wave_failed")
                return True
            await self.ctx.save_checkpoint(wave=index + 1)
            if index + 1 < len(waves) and not await self._gate(index):
                return False
        return False

    async def _announce_wave(self, index: int, waves: list[tuple[str, ...]]) -> None:
        """rollout.wave_started, once per wave (a resumed run does not repeat it)."""
        if self.ctx.checkpoint.get("wave_started", -1) >= index:
            return
        await self.ctx.lease.event(EventType.ROLLOUT_WAVE_STARTED,
                                   {"wave": index + 1, "waves": len(waves), "devices": len(waves[index])})
        await self.ctx.save_checkpoint(wave_started=index)

    async def _aborted(self, index: int, reason: str) -> None:
        tally = self._tally()
        self.ctx.log.warning("rollout_aborted", wave=index + 1, reason=reason, **vars(tally))
        await self.ctx.lease.event(EventType.ROLLOUT_ABORTED, {"wave": index + 1, "reason": reason,
                                                               "executed": tally.executed,
                                                               "failed": tally.failed})

    async def _gate(self, index: int) -> bool:
        """Soak, then (manual approval) pause until resumed; False if cancelled."""
        if await self.ctx.wait_cancel(self.params.soak_s):
            return False
        if self.params.approval == "manual":
            self.ctx.log.info("rollout_paused", after_wave=index + 1)
            return await self.ctx.pause_until_resumed()
        return True

    def _tally(self) -> Tally:
        done = [d for d in self.ledger.all_ids()
                if self.ledger.get(d).state in (OutcomeState.SUCCEEDED, OutcomeState.FAILED)
                and self.ledger.get(d).code != FaultCode.ALREADY_CURRENT]
        failed = sum(1 for d in done if self.ledger.get(d).state == OutcomeState.FAILED)
        return Tally(executed=len(done), failed=failed)

    def _wave_failed(self, wave: tuple[str, ...]) -> bool:
        verdicts = [self.ledger.get(d) for d in wave if d in self.ledger]
        ran = [e for e in verdicts
               if e.state in (OutcomeState.SUCCEEDED, OutcomeState.FAILED) and e.code != FaultCode.ALREADY_CURRENT]
        failed = sum(1 for e in ran if e.state == OutcomeState.FAILED)
        return should_abort(Tally(len(ran), failed), threshold_pct=self.params.failure_threshold_pct,
                            min_executed=1)

    def _abort(self) -> bool:
        return should_abort(self._tally(), threshold_pct=self.params.failure_threshold_pct,
                            min_executed=self.params.min_executed)

    async def _cancel_queued(self, waves: list[tuple[str, ...]], aborted: bool) -> None:
        queued = [d for w in waves for d in w if d not in self.ledger]
        if not queued or not (aborted or self.ctx.cancelled):
            return
        why = "the rollout aborted at its failure threshold" if aborted else "the rollout was cancelled"
        await self.ctx.record([self.ledger.set(d, state=OutcomeState.CANCELLED, step="queued", code=CANCELLED_CODE,
                                               detail=f"never started: {why}") for d in queued])

    def _finish(self, waves: list[tuple[str, ...]], aborted: bool) -> Finish:
        tally = self._tally()
        verdicts = Counter((e.state, e.code) for e in map(self.ledger.get, self.ledger.all_ids()))
        states = Counter(state for state, _ in verdicts.elements())
        current = verdicts[(OutcomeState.SUCCEEDED, FaultCode.ALREADY_CURRENT)]
        result = {
            "waves": [len(w) for w in waves], "waves_done": self.ctx.checkpoint.get("wave", 0),
            "devices": sum(len(w) for w in waves), "updated": states[OutcomeState.SUCCEEDED] - current,
            FaultCode.ALREADY_CURRENT.value: current, "failed": states[OutcomeState.FAILED],
            FaultCode.ROLLED_BACK.value: verdicts[(OutcomeState.FAILED, FaultCode.ROLLED_BACK)],
            "cancelled": states[OutcomeState.CANCELLED],
            "failure_pct": round(tally.failure_pct, 1),
        }
        if aborted:
            return Finish(Status.FAILED, result, "abort_threshold",
                          f"{tally.failed} of {tally.executed} devices failed "
                          f"({tally.failure_pct:.0f} % > {self.params.failure_threshold_pct:g} %)")
        if self.ctx.cancelled:
            return Finish(Status.CANCELLED, result, "cancelled",
                          "cancelled on request; see each device's note")
        if result["failed"]:
            return Finish(Status.FAILED, result, "devices_failed", f"{result['failed']} device(s) failed")
        return Finish(Status.SUCCEEDED, result)


def rollout_targets(devices: Iterable[Device], artifact: FirmwareArtifact) -> list[str]:
    """The devices of the scope the image is built for, in the order the waves take them."""
    return sorted(d.id for d in devices if d.profile == artifact.profile)


async def run_firmware_rollout(ctx: RunContext) -> Finish:
    params = FirmwareRolloutParams.model_validate(ctx.operation.params)
    return await RolloutRun(ctx, params).run()
