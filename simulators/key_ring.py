"""A device's authentication key slots: active, pending and previous, changed make-before-break.

``keys_for(command)`` says which keys may MAC a write (an ordinary critical
write when ``command`` is None); ``run(command)`` carries out a key command
whose MAC verified. Every command is idempotent when repeated with the same
arguments, and the ring always keeps an active key. A refused command raises
``RejectedWrite`` (ILLEGAL DATA VALUE) before anything changes; no message
carries key bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters import AuthKey, KeyOp, PendingState
from adapters.auth_key import unwrap_key
from pymodbus.constants import ExcCodes

from .errors import RejectedWrite


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyCommand:
    """One key command as written to the command window."""

    op: KeyOp
    version: int
    arg: bytes = b""

    def __repr__(self) -> str:
        return f"KeyCommand(op={self.op.name}, version={self.version})"


class KeyRing:
    """The keys one device holds."""

    def __init__(self, active: AuthKey) -> None:
        self.active = active
        self.pending: AuthKey | None = None
        self.pending_state = PendingState.EMPTY
        self.previous: AuthKey | None = None
        self.confirmed = True

    @property
    def active_version(self) -> int:
        return self.active.version

    @property
    def pending_version(self) -> int:
        return 0 if self.pending is None else self.pending.version

    @property
    def previous_version(self) -> int:
        return 0 if self.previous is None else self.previous.version

    def write_keys(self) -> tuple[AuthKey, ...]:
        """Keys accepted for ordinary critical writes: the active one, and the previous one while it is kept."""
        return (self.active,) if self.previous is None else (self.active, self.previous)

    def accepts(self, secret: bytes) -> bool:
        return any(key.matches(secret) for key in self.write_keys())

    def keys_for(self, command: KeyCommand | None) -> tuple[AuthKey, ...]:
        """The keys whose MAC authorises ``command`` (an ordinary critical write for None)."""
        if command is None:
            return self.write_keys()
        version = command.version
        match command.op:
            case KeyOp.VERIFY:
                return self._holding(self.pending, version)
            case KeyOp.ACTIVATE if self.active.version == version:
                return self.write_keys()  # already done: the old key may repeat it
            case KeyOp.CONFIRM:
                return (self.active,) if self.active.version == version else ()
            case KeyOp.REVERT:
                return self._holding(self.previous, version)
        return (self.active,)

    def run(self, command: KeyCommand) -> None:
        """Carry out an authenticated key command."""
        match command.op:
            case KeyOp.STAGE:
                self._stage(command)
            case KeyOp.VERIFY:
                if self.pending is not None and self.pending.version == command.version:
                    self.pending_state = PendingState.VERIFIED
            case KeyOp.ACTIVATE:
                self._activate(command.version)
            case KeyOp.CONFIRM:
                self.confirmed = True
            case KeyOp.RETIRE:
                self._retire(command.version)
            case KeyOp.REVERT:
                if self.previous is not None and self.previous.version == command.version:
                    self.active, self.previous, self.confirmed = self.previous, None, True
            case KeyOp.ABORT_PENDING:
                self.pending, self.pending_state = None, PendingState.EMPTY

    def _holding(self, slot: AuthKey | None, version: int) -> tuple[AuthKey, ...]:
        """``slot`` if it holds ``version``; else the active key if that is ``version`` (the command is done)."""
        if slot is not None and slot.version == version:
            return (slot,)
        return (self.active,) if self.active.version == version else ()

    def _stage(self, command: KeyCommand) -> None:
        if command.version in (self.active.version, self.previous_version):
            raise _refused(f"key version {command.version} is in use; stage a new version")
        try:
            key = unwrap_key(command.arg, version=command.version, under=self.active)
        except ValueError as exc:
            raise _refused(str(exc)) from exc
        if key != self.pending:
            self.pending, self.pending_state = key, PendingState.STAGED

    def _activate(self, version: int) -> None:
        if self.active.version == version:
            return
        if self.pending is None or self.pending.version != version or self.pending_state != PendingState.VERIFIED:
            raise _refused(f"cannot activate key version {version}: it is not the verified pending key")
        self.previous, self.active, self.confirmed = self.active, self.pending, False
        self.pending, self.pending_state = None, PendingState.EMPTY

    def _retire(self, version: int) -> None:
        if self.previous is not None and self.previous.version != version:
            raise _refused(f"cannot retire key version {version}: the previous key is version "
                           f"{self.previous.version}")
        self.previous = None


def _refused(reason: str) -> RejectedWrite:
    return RejectedWrite(ExcCodes.ILLEGAL_VALUE, reason)
