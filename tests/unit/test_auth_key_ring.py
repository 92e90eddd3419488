"""The device's key slots as a pure state machine: which keys authorise what, and what each command does."""

from __future__ import annotations

import pytest

from adapters import AuthKey, KeyOp, PendingState, wrap_key
from simulators import KeyCommand, KeyRing, RejectedWrite

OLD, NEW = AuthKey(1, bytes(range(32))), AuthKey(2, bytes(range(32, 64)))


def command(op: KeyOp, version: int, arg: bytes = b"") -> KeyCommand:
    return KeyCommand(op=op, version=version, arg=arg)


def run(ring: KeyRing, op: KeyOp, version: int, *, signed_by: AuthKey, arg: bytes = b"") -> None:
    """Run a command as the device does: only if ``signed_by`` is among the keys it accepts for it."""
    given = command(op, version, arg)
    assert signed_by in ring.keys_for(given), f"{op.name} must accept {signed_by}"
    ring.run(given)


def slots(ring: KeyRing) -> tuple[int, int, int, PendingState]:
    return ring.active_version, ring.pending_version, ring.previous_version, ring.pending_state


def test_rotation_accepts_old_or_new_at_every_step_and_repeats_are_harmless():
    ring = KeyRing(OLD)
    steps = [
        (KeyOp.STAGE, 2, OLD, wrap_key(NEW, under=OLD), (1, 2, 0, PendingState.STAGED)),
        (KeyOp.VERIFY, 2, NEW, b"", (1, 2, 0, PendingState.VERIFIED)),
        (KeyOp.ACTIVATE, 2, OLD, b"", (2, 0, 1, PendingState.EMPTY)),
        (KeyOp.CONFIRM, 2, NEW, b"", (2, 0, 1, PendingState.EMPTY)),
        (KeyOp.RETIRE, 1, NEW, b"", (2, 0, 0, PendingState.EMPTY)),
    ]
    for op, version, signer, arg, expected in steps:
        for _ in range(2):
            run(ring, op, version, signed_by=signer, arg=arg)
            assert slots(ring) == expected, op.name
            assert ring.accepts(OLD.secret) or ring.accepts(NEW.secret)
    assert ring.write_keys() == (NEW,) and ring.confirmed


def test_ordinary_writes_accept_the_previous_key_until_it_is_retired():
    ring = KeyRing(OLD)
    run(ring, KeyOp.STAGE, 2, signed_by=OLD, arg=wrap_key(NEW, under=OLD))
    assert ring.keys_for(None) == (OLD,), "a pending key authorises nothing but its VERIFY"
    run(ring, KeyOp.VERIFY, 2, signed_by=NEW)
    run(ring, KeyOp.ACTIVATE, 2, signed_by=OLD)
    assert ring.keys_for(None) == (NEW, OLD) and not ring.confirmed
    assert ring.keys_for(command(KeyOp.CONFIRM, 2)) == (NEW,)
    run(ring, KeyOp.REVERT, 1, signed_by=OLD)
    run(ring, KeyOp.REVERT, 1, signed_by=OLD)
    assert slots(ring) == (1, 0, 0, PendingState.EMPTY) and ring.keys_for(None) == (OLD,)


@pytest.mark.parametrize("op", [KeyOp.STAGE, KeyOp.ACTIVATE, KeyOp.RETIRE, KeyOp.ABORT_PENDING])
def test_commands_under_the_active_key_refuse_other_keys(op):
    assert KeyRing(OLD).keys_for(command(op, 2)) == (OLD,)


def test_refused_commands_change_nothing():
    ring = KeyRing(OLD)
    refusals = [
        command(KeyOp.ACTIVATE, 2),  # nothing pending
        command(KeyOp.STAGE, 1, wrap_key(NEW, under=OLD)),  # version in use
        command(KeyOp.STAGE, 2, wrap_key(NEW, under=NEW)),  # not wrapped under the active key
    ]
    for refused in refusals:
        with pytest.raises(RejectedWrite) as info:
            ring.run(refused)
        assert info.value.code == 3 and NEW.secret.hex() not in str(info.value)
        assert slots(ring) == (1, 0, 0, PendingState.EMPTY)
    run(ring, KeyOp.STAGE, 2, signed_by=OLD, arg=wrap_key(NEW, under=OLD))
    with pytest.raises(RejectedWrite):
        ring.run(command(KeyOp.ACTIVATE, 2))  # staged but not verified
    assert ring.keys_for(command(KeyOp.VERIFY, 3)) == () and ring.keys_for(command(KeyOp.REVERT, 5)) == ()
    run(ring, KeyOp.ABORT_PENDING, 0, signed_by=OLD)
    assert slots(ring) == (1, 0, 0, PendingState.EMPTY)
