"""A simulated load whose critical writes are authenticated (profile ``secure_load``).

The load side is ``SimulatedDevice``. A critical write is accepted only if the
MAC deposited since the last challenge change verifies, under a key the ring
accepts for that write (``key_ring``). Every critical write attempt, accepted
or not, consumes the deposit and changes the challenge; a refused one answers
ILLEGAL FUNCTION. Each device's first key (version 1) is derived from the
fleet seed and its id, so runs are reproducible; challenges are random.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from adapters import AuthKey, KeyOp, Profile, auth
from pymodbus.constants import ExcCodes

from .auth_roles import AUTH_ROLES, check_secure_profile
from .device import SimulatedDevice
from .device_base import Counters, DeviceBase, Value
from .errors import RejectedWrite
from .faults import AUTH_FAULTS, Fault, FaultKind
from .key_ring import KeyCommand, KeyRing
from .physics import LoadPhysics
from .spec import DeviceSpec

FIRST_KEY_VERSION = 1
KEY_DERIVATION_LABEL = "gridjobs-simulator-auth-key"
CHALLENGE_BITS = 32


@dataclass(slots=True)
class AuthCounters(Counters):
    """``Counters`` plus critical writes accepted and refused as not authenticated."""

    auth_accepted: int = 0
    auth_rejected: int = 0


@dataclass(frozen=True, slots=True)
class Deposit:
    version: int
    mac: bytes


def initial_key(*, seed: int, device_id: str) -> AuthKey:
    """A device's first key: reproducible from the fleet seed and the device id."""
    return AuthKey(FIRST_KEY_VERSION, hashlib.sha256(f"{KEY_DERIVATION_LABEL}:{seed}:{device_id}".encode()).digest())


class SimulatedSecureLoad(SimulatedDevice):
    """Runtime state of one authenticated load: load physics, key ring, challenge and MAC deposit."""

    FAULT_KINDS = DeviceBase.FAULT_KINDS | AUTH_FAULTS

    def __init__(self, *, spec: DeviceSpec, profile: Profile, physics: LoadPhysics, seed: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        check_secure_profile(profile)
        super().__init__(spec=spec, profile=profile, physics=physics, clock=clock)
        self.counters = AuthCounters()
        self.auth = KeyRing(initial_key(seed=seed, device_id=spec.id))
        self.challenge = secrets.randbits(CHALLENGE_BITS)
        self._deposit: Deposit | None = None
        self._drop_spent = False  # drop_after_auth_command acts once

    def accepts(self, secret: bytes) -> bool:
        """Whether an ordinary critical write MAC'd with ``secret`` would be accepted."""
        return self.auth.accepts(secret)

    def inject(self, fault: Fault) -> None:
        super().inject(fault)
        self._drop_spent = False

    def value(self, role: str) -> Value | None:
        if role not in AUTH_ROLES:
            return super().value(role)
        ring = self.auth
        match role:
            case auth.CHALLENGE:
                return self.challenge
            case auth.ACTIVE_VERSION:
                return ring.active_version
            case auth.PENDING_VERSION:
                return ring.pending_version
            case auth.PREVIOUS_VERSION:
                return ring.previous_version
            case auth.PENDING_STATE:
                return int(ring.pending_state)
        return None  # the deposit and command registers read as zeros

    def apply_write(self, *, address: int, words: Sequence[int], values: Mapping[str, Value]) -> None:
        if self.profile.critical_roles.isdisjoint(values):
            self._deposit_or_write(values)
            return
        try:
            self._authenticated_write(address=address, words=words, values=values)
        finally:
            self._deposit = None
            self._change_challenge()

    def _deposit_or_write(self, values: Mapping[str, Value]) -> None:
        deposit = {role: value for role, value in values.items() if role in auth.DEPOSIT_ROLES}
        if deposit and len(deposit) != len(auth.DEPOSIT_ROLES):
            raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"a MAC deposit writes {list(auth.DEPOSIT_ROLES)} together")
        if deposit:
            self._deposit = Deposit(int(deposit[auth.KEY_VERSION]), bytes(deposit[auth.MAC]))
        if rest := {role: value for role, value in values.items() if role not in AUTH_ROLES}:
            self.write(rest)

    def _authenticated_write(self, *, address: int, words: Sequence[int], values: Mapping[str, Value]) -> None:
        command = _command(values)
        keys = self.auth.keys_for(command)
        if not self._verifies(keys, address=address, words=words):
            self.counters.auth_rejected += 1
            raise RejectedWrite(ExcCodes.ILLEGAL_FUNCTION, "critical write not authenticated")
        self.counters.auth_accepted += 1
        if command is not None:
            self.auth.run(command)
            self.counters.writes.update(auth.COMMAND_ROLES)
            if self._drop_once(command):
                self._reply = self.fault  # close instead of answering (take_reply)
        if load := {role: value for role, value in values.items() if role not in AUTH_ROLES}:
            self.write(load)

    def _verifies(self, keys: tuple[AuthKey, ...], *, address: int, words: Sequence[int]) -> bool:
        deposit = self._deposit
        if deposit is None:
            return False
        return any(key.version == deposit.version and key.verifies(
            deposit.mac, challenge=self.challenge, unit_id=self.spec.unit_id, address=address, words=words)
            for key in keys)

    def _change_challenge(self) -> None:
        old = self.challenge
        while self.challenge == old:
            self.challenge = secrets.randbits(CHALLENGE_BITS)

    def _drop_once(self, command: KeyCommand) -> bool:
        if self.fault is None or self.fault.kind is not FaultKind.DROP_AFTER_AUTH_COMMAND or self._drop_spent:
            return False
        if self.fault.code not in (0, int(command.op)):
            return False
        self._drop_spent = True
        self.counters.faults_injected += 1
        return True


def _command(values: Mapping[str, Value]) -> KeyCommand | None:
    given = [role for role in auth.COMMAND_ROLES if role in values]
    if not given:
        return None
    if len(given) != len(auth.COMMAND_ROLES):
        raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"a key command writes {list(auth.COMMAND_ROLES)} together")
    try:
        op = KeyOp(int(values[auth.COMMAND]))
    except ValueError:
        raise RejectedWrite(ExcCodes.ILLEGAL_VALUE, f"unknown key command {values[auth.COMMAND]}") from None
    return KeyCommand(op=op, version=int(values[auth.COMMAND_VERSION]), arg=bytes(values[auth.COMMAND_ARG]))
