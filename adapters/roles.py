"""Role names: how code names the values of a device, whatever the profile's addresses.

Profiles (data) bind these names to points; adapters, actors, simulators and
gridjobs name them only through ``Role``. A profile may offer roles of its own
(``frequency_hz``); only the roles some code reads or writes are listed here.
The groups below are what a profile needs for a kind of work.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    # Curtailment: a setpoint with its dead-man revert timer, and an optional gate.
    MEASURED_KW = "measured_kw"
    RATED_KW = "rated_kw"
    MAX_KW = "max_kw"  # a generator's maximum output (SunSpec WMax)
    CURTAIL_SETPOINT_PCT = "curtail_setpoint_pct"
    REVERT_TIMEOUT_S = "revert_timeout_s"
    REVERT_REMAINING_S = "revert_remaining_s"
    CURTAIL_ENABLE = "curtail_enable"  # the gate: the setpoint acts only while it is 1 (SunSpec WMaxLim_Ena)
    # Feeder controllers.
    BREAKER_CLOSED = "breaker_closed"
    VOLTAGE_V = "voltage_v"
    ENERGY_KWH = "energy_kwh"
    DEVICE_MODEL = "device_model"
    # Firmware (A/B banks): status.
    FIRMWARE_VERSION = "firmware_version"
    FW_STATE = "fw_state"
    FW_ACTIVE_BANK = "fw_active_bank"
    FW_STAGED_BYTES = "fw_staged_bytes"
    FW_STAGED_CRC = "fw_staged_crc"
    # Firmware: the image declared for the inactive bank, the chunk window, the commands.
    FW_IMAGE_SIZE = "fw_image_size"
    FW_IMAGE_VERSION = "fw_image_version"
    FW_CHUNK_OFFSET = "fw_chunk_offset"
    FW_CHUNK_LEN = "fw_chunk_len"
    FW_CHUNK_DATA = "fw_chunk_data"
    FW_ACTIVATE = "fw_activate"
    FW_CONFIRM = "fw_confirm"
    # Authenticated writes (see ``auth``): challenge, MAC deposit, key slots, key command.
    AUTH_CHALLENGE = "auth_challenge"
    AUTH_KEY_VERSION = "auth_key_version"
    AUTH_MAC = "auth_mac"
    AUTH_ACTIVE_VERSION = "auth_active_version"
    AUTH_PENDING_VERSION = "auth_pending_version"
    AUTH_PREVIOUS_VERSION = "auth_previous_version"
    AUTH_PENDING_STATE = "auth_pending_state"
    AUTH_CMD = "auth_cmd"
    AUTH_CMD_VERSION = "auth_cmd_version"
    AUTH_CMD_ARG = "auth_cmd_arg"

    def __repr__(self) -> str:
        # A role is a name written in profile files: messages show it as written there.
        return repr(self.value)


# What a profile needs to be curtailed: a setpoint, its revert timer, and a reading to verify.
CURTAIL_ROLES = frozenset({Role.MEASURED_KW, Role.CURTAIL_SETPOINT_PCT, Role.REVERT_TIMEOUT_S})
# A generator declares its maximum output; a load does not.
GENERATION_ROLE = Role.MAX_KW
DER_ROLES = CURTAIL_ROLES | {GENERATION_ROLE}
# What a profile needs for firmware updates: every role the firmware steps read or write.
FIRMWARE_STATUS_ROLES = frozenset({
    Role.FIRMWARE_VERSION, Role.FW_ACTIVE_BANK, Role.FW_STATE, Role.FW_STAGED_BYTES, Role.FW_STAGED_CRC,
})
FIRMWARE_WRITE_ROLES = frozenset({
    Role.FW_IMAGE_SIZE, Role.FW_IMAGE_VERSION, Role.FW_CHUNK_OFFSET, Role.FW_CHUNK_LEN, Role.FW_CHUNK_DATA,
    Role.FW_ACTIVATE, Role.FW_CONFIRM,
})
FIRMWARE_ROLES = FIRMWARE_STATUS_ROLES | FIRMWARE_WRITE_ROLES
