"""The adapters exception tree.

``AdapterError`` is the root. Programming errors (a bad profile, a value the
codec cannot encode, a write to a read-only point) are ``ValueError``
subclasses. Anything that goes wrong on the wire is a ``DeviceFault`` whose
``code`` is one of ``FaultCode``.
"""

from __future__ import annotations

import enum


class AdapterError(Exception):
    """Root of every error raised by the adapters package."""


class ProfileError(AdapterError, ValueError):
    """A profile file is invalid, or a profile was asked for something it lacks."""


class UnknownRoleError(ProfileError, KeyError):
    """A profile has no point with the requested role."""

    def __str__(self) -> str:
        # KeyError would print the repr of the message; keep it readable.
        return str(self.args[0])


class CodecError(AdapterError, ValueError):
    """A value cannot be encoded for a point, or registers cannot be decoded."""


class NotImplementedValueError(CodecError):
    """A device reports a point's "not implemented" marker (SunSpec) instead of a value."""


class NotWritableError(AdapterError, ValueError):
    """A caller asked to write a point the profile marks read-only."""


class SessionClosedError(AdapterError, RuntimeError):
    """A request was made on a session (or pool) that has been closed."""


class FaultCode(enum.StrEnum):
    """Per-device outcome codes. Values are stable: they are stored and shown to callers.

    The first group is what a ``DeviceFault`` says went wrong on the wire; the
    rest are outcomes the layers above decide from what the device reported.
    """

    DEVICE_TIMEOUT = "device_timeout"
    CONNECTION_FAILED = "connection_failed"
    MODBUS_EXCEPTION = "modbus_exception"
    BAD_RESPONSE = "bad_response"
    # The device's register map is not the one the profile expects: no SunSpec
    # marker, a required model missing or too short, or a value "not implemented".
    PROFILE_MISMATCH = "profile_mismatch"
    # The device refused a critical write as not authenticated: a missing, wrong
    # or replayed MAC, or a key it does not accept for that write.
    AUTH_REJECTED = "auth_rejected"
    # A write whose answer was lost and whose effect a read-back could not settle.
    OUTCOME_UNKNOWN = "outcome_unknown"
    # Decided above the wire.
    SHARD_UNAVAILABLE = "shard_unavailable"  # the actor holding the device did not answer
    DEVICE_HELD = "device_held"  # another operation has the device curtailed
    VERIFY_MISMATCH = "verify_mismatch"  # the read-back or the measured power disagrees with the command
    CRC_MISMATCH = "crc_mismatch"  # the staged firmware image is not the one sent
    ROLLED_BACK = "rolled_back"  # the new firmware did not boot; the old one runs
    UNKNOWN_PROFILE = "unknown_profile"
    UNSUPPORTED_DEVICE = "unsupported_device"  # the profile lacks what the step needs
    ALREADY_CURRENT = "already_current"  # the device already runs the wanted firmware
    UNKNOWN_KEY_STATE = "unknown_key_state"  # key slots that no rotation step explains


# Worth another attempt: the device (or its shard) did not answer; nothing says it refused.
# (An unsettled write is one of these: commands carry absolute values, so sending it
# again is safe, and an answer settles it.)
TRANSIENT: frozenset[FaultCode] = frozenset(
    {FaultCode.DEVICE_TIMEOUT, FaultCode.CONNECTION_FAILED, FaultCode.SHARD_UNAVAILABLE,
     FaultCode.OUTCOME_UNKNOWN}
)
# A request that went out and got no usable answer: a write may or may not have been applied.
ANSWER_LOST: frozenset[FaultCode] = frozenset(
    {FaultCode.DEVICE_TIMEOUT, FaultCode.CONNECTION_FAILED, FaultCode.BAD_RESPONSE})


class DeviceFault(AdapterError):
    """A request to a device failed on the network or protocol level.

    ``sent`` is False only when the request certainly never left (no connection
    to send it on); otherwise the device may have received it, and for a write
    may have applied it although its answer was lost. ``changed`` (set by
    ``DeviceClient.write_sequence``) is False only when the device is known to be
    as it was before the sequence: nothing applied, nothing in doubt.
    """

    def __init__(self, code: FaultCode, detail: str, exception_code: int | None = None,
                 sent: bool = True, changed: bool = True) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = FaultCode(code)
        self.detail = detail
        self.exception_code = exception_code  # the Modbus exception code, for modbus_exception
        self.sent = sent
        self.changed = changed

    @property
    def answer_lost(self) -> bool:
        """The request went out and no usable answer came back: its effect is unknown."""
        return self.sent and self.code in ANSWER_LOST

    def __reduce__(self) -> tuple[type[DeviceFault], tuple[str, str, int | None, bool, bool]]:
        # Faults cross process boundaries (Ray actors); rebuild from code and detail.
        return (type(self), (str(self.code), self.detail, self.exception_code, self.sent, self.changed))
