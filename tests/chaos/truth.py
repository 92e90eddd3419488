"""The invariants, read from the devices: write logs, counters and device state.

gridjobs' report is used only to learn what it had *recorded* at each kill (the
allowance for re-sends depends on it) and which devices it admits it left
curtailed; every effect is counted on the device.

Curtailment re-sends the design allows (gridjobs/curtailment/engine.py, restore.py,
actors/steps.py):

- A curtail command whose outcome is not recorded (no outcome yet, or `running` at
  step `curtail`) may be sent again: a resumed run re-plans the same absolute command
  from the checkpointed survey (the intents need not be durable first).
- Once a device's curtailment is recorded (`curtailed`, or failed), the command is
  never sent again. Two writes of a curtailing setpoint may still reach it:
  a deeper DER limit (a new, lower setpoint: re-recorded `running` first), and a
  hold's refresh re-applying the recorded setpoint after the device's own dead-man
  timer released it (at most one per release, `counters.timer_releases`, and only
  before the hold ends: a refresh that re-curtails once the hold is over is a
  curtailment nobody asked for). Neither applies to a device recorded failed: it is
  never planned or refreshed again.
- A device recorded `restored` gets no write at all afterwards.

Rollouts and rotations: a device with a verdict (succeeded, failed, cancelled) gets
no write afterwards; an RTU is activated once and, per interruption of its
transfer, at most one chunk is sent twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from actors.firmware_steps import CHUNK_BYTES
from adapters import AuthKey, FirmwareState, Role
from gridjobs.records import Outcome
from gridjobs.states import VERDICTS, OutcomeState
from simulators import DeviceBase
from simulators.write_log import WRITE_LOG_LIMIT, WriteRecord

from tests.chaos.marks import KillMark

SETPOINT, ENABLE = Role.CURTAIL_SETPOINT_PCT, Role.CURTAIL_ENABLE
NORMAL_PCT = 100
CURTAIL, CURTAILED, RESTORED = "curtail", "curtailed", "restored"


@dataclass
class Truth:
    """Devices that break an invariant, by invariant, with a line saying why for each."""

    duplicated: set[str] = field(default_factory=set)
    left_curtailed: set[str] = field(default_factory=set)
    locked_out: set[str] = field(default_factory=set)
    other: set[str] = field(default_factory=set)  # unreported left curtailed, rejected commands, not updated
    notes: list[str] = field(default_factory=list)

    def flag(self, kind: set[str], device_id: str, why: str) -> None:
        kind.add(device_id)
        self.notes.append(f"{device_id}: {why}")


def _log(device: DeviceBase) -> list[WriteRecord]:
    log = list(device.write_log)
    if len(log) >= WRITE_LOG_LIMIT:
        raise AssertionError(f"{device.id}: write log full; counts after a kill would be wrong")
    return log


def _curtailing(records: Iterable[WriteRecord]) -> list[WriteRecord]:
    return [r for r in records if SETPOINT in r.values and r.values[SETPOINT] < NORMAL_PCT]


def _unrecorded(outcome: Outcome | None) -> bool:
    return outcome is None or (outcome.state == OutcomeState.RUNNING and outcome.step == CURTAIL)


def curtail_duplicates(device: DeviceBase, marks: Sequence[KillMark], *, hold_ends_at: float = math.inf) -> list[str]:
    """Curtailing writes after a kill that the allowance above does not cover;
    `hold_ends_at`: when the device's hold ends, on the device's clock."""
    log, found = _log(device), []
    for number, mark in enumerate(marks, 1):
        outcome = mark.outcomes.get(device.id)
        if _unrecorded(outcome):
            continue
        after = log[mark.device(device.id).writes:]
        if outcome.step == RESTORED:
            if after:
                found.append(f"{len(after)} write(s) after kill {number}, its restore recorded")
            continue
        sent = _curtailing(after)
        if outcome.step == CURTAILED and outcome.state == OutcomeState.SUCCEEDED:
            same = [r for r in sent if r.values[SETPOINT] >= int(outcome.data["setpoint_pct"])]
            releases = device.counters.timer_releases - mark.device(device.id).timer_releases
            again = len(same) - min(releases, sum(1 for r in same if r.at < hold_ends_at))
        else:
            again = len(sent)
        if again > 0:
            found.append(f"{again} curtailing write(s) after kill {number} beyond the allowance (recorded "
                         f"{outcome.state}/{outcome.step}, sent {[r.values[SETPOINT] for r in sent]})")
    return found


def left_normal_by_writes(device: DeviceBase) -> bool:
    """Replay the setpoint and gate writes: the last ones left nothing limiting the device."""
    setpoint, enable = NORMAL_PCT, None
    for record in _log(device):
        setpoint = int(record.values.get(SETPOINT, setpoint))
        enable = record.values.get(ENABLE, enable)
    return setpoint >= NORMAL_PCT or enable == 0


def curtailment_truth(devices: Iterable[DeviceBase], marks: Sequence[KillMark], reported_left: set[str],
                      hold_ends_at: Mapping[str, float] | None = None) -> Truth:
    """`hold_ends_at`: per device, when its operation's hold ends on the device's clock (none: never)."""
    truth = Truth()
    for device in devices:
        ends = (hold_ends_at or {}).get(device.id, math.inf)
        for why in curtail_duplicates(device, marks, hold_ends_at=ends):
            truth.flag(truth.duplicated, device.id, why)
        if not left_normal_by_writes(device) or device.setpoint_pct != NORMAL_PCT:
            truth.flag(truth.left_curtailed, device.id, f"not restored: limit {device.setpoint_pct} % in force")
            if device.id not in reported_left:
                truth.flag(truth.other, device.id, "left curtailed, and not in any left_curtailed")
    return truth


def writes_after_verdict(device: DeviceBase, marks: Sequence[KillMark]) -> list[str]:
    log, found = _log(device), []
    for number, mark in enumerate(marks, 1):
        outcome = mark.outcomes.get(device.id)
        if outcome is not None and outcome.state in VERDICTS:
            if after := log[mark.device(device.id).writes:]:
                found.append(f"{len(after)} write(s) after kill {number}, its verdict {outcome.state} recorded")
    return found


def rollout_truth(devices: Iterable[DeviceBase], marks: Sequence[KillMark], *, size: int,
                  version: str) -> Truth:
    truth = Truth()
    for device in devices:
        counters = device.counters
        for why in writes_after_verdict(device, marks):
            truth.flag(truth.duplicated, device.id, why)
        if counters.fw_activations > 1:
            truth.flag(truth.duplicated, device.id, f"activated {counters.fw_activations} times")
        interrupted = sum(1 for m in marks if m.device(device.id).fw_bytes and not m.device(device.id).fw_activations)
        if counters.fw_bytes_received > size + CHUNK_BYTES * interrupted:
            truth.flag(truth.duplicated, device.id, f"received {counters.fw_bytes_received} bytes of a {size}-byte "
                                                    f"image over {interrupted} interruption(s)")
        if device.firmware_version != version or device.firmware_state != FirmwareState.CONFIRMED:
            truth.flag(truth.other, device.id, f"runs {device.firmware_version} ({device.firmware_state.name})")
    return truth


def rotation_truth(devices: Iterable[DeviceBase], marks: Sequence[KillMark],
                   store_active: Mapping[str, AuthKey]) -> Truth:
    """`store_active`: the key the store says is active, per device."""
    truth = Truth()
    for device in devices:
        for why in writes_after_verdict(device, marks):
            truth.flag(truth.duplicated, device.id, why)
        active = store_active.get(device.id)
        if active is None or not device.accepts(active.secret):
            truth.flag(truth.locked_out, device.id, "does not accept the key the store says is active")
        if device.counters.auth_rejected:
            truth.flag(truth.other, device.id, f"refused {device.counters.auth_rejected} command(s) as not authenticated")
    return truth
