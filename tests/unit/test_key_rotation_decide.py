"""The rotation's next move is decided from the device's own slots."""

from __future__ import annotations

from hypothesis import given, strategies as st

from adapters import AuthKey, KeyOp, KeySlots, PendingState, wrap_key
from gridjobs.key_rotation.decide import next_move, undo
from simulators import KeyCommand, KeyRing


def Slots(active, pending, previous, pending_state):  # noqa: N802 - reads like the device's four registers
    return KeySlots(active=active, pending=pending or None, previous=previous or None,
                    pending_state=PendingState(pending_state))


def test_forward_path_from_every_slot_state():
    assert next_move(Slots(1, 0, 0, 0), old=1, new=2, confirmed=False).step == "stage"
    assert next_move(Slots(1, 2, 0, 1), old=1, new=2, confirmed=False).step == "verify"
    assert next_move(Slots(1, 2, 0, 2), old=1, new=2, confirmed=False).step == "activate"
    assert next_move(Slots(2, 0, 1, 0), old=1, new=2, confirmed=False).step == "confirm"
    assert next_move(Slots(2, 0, 1, 0), old=1, new=2, confirmed=True).step == "retire"
    assert next_move(Slots(2, 0, 0, 0), old=1, new=2, confirmed=True).step == "done"
    assert next_move(Slots(7, 0, 0, 0), old=1, new=2, confirmed=False).step == "stuck"


def test_moves_are_authenticated_with_a_key_the_device_holds():
    stage = next_move(Slots(1, 0, 0, 0), old=1, new=2, confirmed=False)
    verify = next_move(Slots(1, 2, 0, 1), old=1, new=2, confirmed=False)
    retire = next_move(Slots(2, 0, 1, 0), old=1, new=2, confirmed=True)
    assert (stage.mac_version, verify.mac_version, retire.mac_version) == (1, 2, 2)


def test_undo_before_and_after_activation():
    assert undo(Slots(1, 2, 0, 1), old=1, new=2).step == "abort"
    assert undo(Slots(2, 0, 1, 0), old=1, new=2).step == "revert"
    assert undo(Slots(1, 0, 0, 0), old=1, new=2).step == "done"


@given(st.integers(0, 4), st.booleans())
def test_forward_moves_never_authenticate_with_an_unknown_key(step_index, confirmed):
    states = [Slots(1, 0, 0, 0), Slots(1, 2, 0, 1), Slots(1, 2, 0, 2), Slots(2, 0, 1, 0), Slots(2, 0, 0, 0)]
    move = next_move(states[step_index], old=1, new=2, confirmed=confirmed)
    assert move.mac_version in (None, 1, 2)


def test_every_undo_move_is_one_the_device_accepts_and_carries_out():
    """Found by the chaos suite: a revert named the new version, which the device refuses
    (REVERT names the previous key, the one that becomes active again), so a device
    whose confirm never got an answer could not be rolled back."""
    old, new = AuthKey(1, bytes(range(32))), AuthKey(2, bytes(range(32, 64)))
    keys = {1: old, 2: new}
    staged, activated = KeyRing(old), KeyRing(old)
    for ring, ops in ((staged, [KeyOp.STAGE]), (activated, [KeyOp.STAGE, KeyOp.VERIFY, KeyOp.ACTIVATE])):
        for op in ops:
            move = next_move(_slots(ring), old=1, new=2, confirmed=False)
            assert move.command is op
            ring.run(KeyCommand(op=op, version=move.version, arg=wrap_key(new, under=old)))
    for ring in (staged, activated):
        move = undo(_slots(ring), old=1, new=2)
        command = KeyCommand(op=move.command, version=move.version)
        assert keys[move.mac_version] in ring.keys_for(command), move.step
        ring.run(command)
        assert undo(_slots(ring), old=1, new=2).step == "done"
        assert ring.active_version == 1 and ring.write_keys() == (old,)


def _slots(ring: KeyRing) -> KeySlots:
    return Slots(ring.active_version, ring.pending_version, ring.previous_version, ring.pending_state)
