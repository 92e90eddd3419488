"""A shard's hold on a device lasts only while the device's dead-man timer is armed."""

from __future__ import annotations

from actors.tasks import DeviceState


def test_hold_blocks_other_operations_until_it_lapses():
    state = DeviceState()
    assert not state.held_by_other("op-b", now=100.0)
    state.hold("op-a", until=130.0)
    assert state.held_by_other("op-b", now=100.0)
    assert not state.held_by_other("op-a", now=100.0)  # the holder itself
    assert not state.held_by_other("op-b", now=130.0)  # timer expired: device reverted


def test_release_clears_the_hold():
    state = DeviceState()
    state.hold("op-a", until=130.0)
    state.release()
    assert state.holder is None and not state.held_by_other("op-b", now=100.0)
