"""The names of the step programs a shard runs; callers name a step by one of these."""

from __future__ import annotations

import enum


class Step(enum.StrEnum):
    # Curtailment (actors.steps)
    SURVEY = "survey"
    CURTAIL = "curtail"
    REFRESH = "refresh"
    RESTORE = "restore"
    SWEEP = "sweep"      # read back where a device stands once an operation is done with it
    # Firmware (actors.firmware_steps)
    FW_PRECHECK = "fw_precheck"
    FW_TRANSFER = "fw_transfer"
    FW_VERIFY = "fw_verify"
    FW_ACTIVATE = "fw_activate"
    FW_CONFIRM = "fw_confirm"
    # Key rotation (actors.key_steps)
    KEY_SLOTS = "key_slots"
    KEY_COMMAND = "key_command"
