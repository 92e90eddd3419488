"""Admission by lane: the lanes, the pure decision, the gate's depth and a queue reading."""

from __future__ import annotations

import pytest

from gridjobs.admission.decide import (
    RETRY_AFTER_MAX_S, RETRY_AFTER_MIN_S, RETRY_AFTER_UNMEASURED_S, Bounds, Reason, admit,
    retry_after_s,
)
from gridjobs.admission.gate import LaneReading, QueueGate
from gridjobs.admission.lanes import Band, Lane, band_of, lane_of
from gridjobs.admission.reading import by_band, lane_reading, oldest_queued_s
from gridjobs.admission.refusal import refusal
from gridjobs.states import Status
from gridjobs.store.queue import ClaimedGroup, QueueGroup, QueueSnapshot

BOUNDS = Bounds(grid=100, bulk=10)


@pytest.mark.parametrize("kind,priority,lane", [
    ("load_shed", 50, Lane.GRID), ("der_curtailment", 100, Lane.GRID),
    ("load_shed", 49, Lane.BULK),            # a routine shed waits with the bulk work
    ("der_curtailment", -5, Lane.BULK),
    ("firmware_rollout", 100, Lane.BULK),    # never grid, whatever its priority
    ("key_rotation", 50, Lane.BULK),
])
def test_lanes(kind, priority, lane):
    assert lane_of(kind, priority, emergency_priority=50) is lane


def test_bands():
    assert [band_of(p, emergency_priority=50) for p in (100, 50, 49, 0, -1)] == [
        Band.EMERGENCY, Band.EMERGENCY, Band.NORMAL, Band.NORMAL, Band.LOW]


def test_below_the_bound_is_admitted():
    decision = admit(Lane.BULK, 9, BOUNDS)
    assert decision.admitted and decision.refused is None and decision.bound == 10


def test_at_the_bound_is_refused_with_a_retry_after_from_the_drain_rate():
    decision = admit(Lane.BULK, 20, BOUNDS, drain_per_s=2.0)
    assert not decision.admitted and decision.refused is Reason.QUEUE_FULL
    assert decision.retry_after_s == 6     # 11 must leave before one slot is free: ceil(11 / 2)


def test_the_grid_lane_has_its_own_bound():
    assert admit(Lane.GRID, 20, BOUNDS).admitted
    assert not admit(Lane.GRID, 100, BOUNDS).admitted


def test_retry_after_is_clamped_and_conservative_without_a_rate():
    assert retry_after_s(1, 1000.0) == RETRY_AFTER_MIN_S
    assert retry_after_s(10_000, 0.5) == RETRY_AFTER_MAX_S
    assert retry_after_s(5, None) == retry_after_s(5, 0.0) == RETRY_AFTER_UNMEASURED_S


def test_a_reserved_slot_admits_only_the_grid_lane():
    assert admit(Lane.GRID, 0, BOUNDS, reserved_slot=True).admitted
    refused = admit(Lane.BULK, 0, BOUNDS, reserved_slot=True)
    assert refused.refused is Reason.RESERVE and refused.retry_after_s == 1


def test_refusal_names_lane_depth_and_bound():
    error = refusal(admit(Lane.BULK, 12, BOUNDS, drain_per_s=1.0))
    assert error.status == 503 and error.type_slug == "overloaded"
    assert "bulk lane" in error.detail and "12" in error.detail and "10" in error.detail
    assert error.headers == {"Retry-After": "3"}
    assert error.extra == {"lane": "bulk", "reason": "queue_full", "depth": 12, "bound": 10,
                           "retry_after_s": 3}


def test_gate_counts_its_own_admissions_until_a_reading_includes_them():
    gate = QueueGate(bounds=BOUNDS, emergency_priority=50)
    for _ in range(9):
        gate.admitted(Lane.BULK)
    assert gate.check("firmware_rollout", 0).admitted
    gate.admitted(Lane.BULK)
    assert not gate.check("firmware_rollout", 0).admitted
    assert gate.check("load_shed", 80).admitted               # a full bulk lane blocks no emergency
    began = gate.reading_began()                               # the read starts: 10 committed
    gate.admitted(Lane.BULK)                                   # one more while it runs
    gate.apply(LaneReading({Lane.BULK: 4, Lane.GRID: 0}, {Lane.BULK: 0.5}), began)
    assert gate.depth(Lane.BULK) == 5 and gate.drain_per_s(Lane.BULK) == 0.5
    assert gate.drain_per_s(Lane.GRID) is None


def test_a_taken_slot_counts_until_settled():
    gate = QueueGate(bounds=Bounds(grid=1, bulk=2), emergency_priority=50)
    first, second = gate.take("key_rotation", 0), gate.take("key_rotation", 0)
    assert first.admitted and second.admitted
    assert not gate.take("key_rotation", 0).admitted          # two in flight fill the lane
    gate.settle(first, committed=False)                        # refused by validation: no row
    assert gate.depth(Lane.BULK) == 1
    gate.settle(second, committed=True)
    assert gate.depth(Lane.BULK) == 1
    assert gate.take("key_rotation", 0).admitted


def _snapshot() -> QueueSnapshot:
    groups = (
        QueueGroup("firmware_rollout", Status.QUEUED, 0, 7, 12.5),
        QueueGroup("load_shed", Status.QUEUED, 10, 2, 3.0),       # routine: bulk
        QueueGroup("load_shed", Status.QUEUED, 90, 3, 40.0),      # emergency: grid
        QueueGroup("load_shed", Status.RUNNING, 90, 1, None),
        QueueGroup("key_rotation", Status.PAUSED, -3, 1, None),
    )
    claimed = (ClaimedGroup("firmware_rollout", 0, 30), ClaimedGroup("load_shed", 90, 6))
    return QueueSnapshot(groups, claimed, window_s=30.0)


def test_a_reading_counts_queued_operations_per_lane_and_the_drain_rate():
    reading = lane_reading(_snapshot(), emergency_priority=50)
    assert reading.depth == {Lane.BULK: 9, Lane.GRID: 3}
    assert reading.drain_per_s == {Lane.BULK: 1.0, Lane.GRID: 0.2}
    assert oldest_queued_s(_snapshot(), emergency_priority=50) == {Lane.BULK: 12.5, Lane.GRID: 40.0}


def test_nothing_claimed_is_no_measured_rate():
    empty = QueueSnapshot((QueueGroup("key_rotation", Status.QUEUED, 0, 1, 1.0),), (), 30.0)
    assert lane_reading(empty, emergency_priority=50).drain_per_s == {Lane.BULK: None, Lane.GRID: None}


def test_queue_by_kind_status_and_band():
    assert by_band(_snapshot(), emergency_priority=50) == {
        ("firmware_rollout", Status.QUEUED, Band.NORMAL): 7,
        ("load_shed", Status.QUEUED, Band.NORMAL): 2,
        ("load_shed", Status.QUEUED, Band.EMERGENCY): 3,
        ("load_shed", Status.RUNNING, Band.EMERGENCY): 1,
        ("key_rotation", Status.PAUSED, Band.LOW): 1,
    }
