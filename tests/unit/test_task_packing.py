"""Tasks and results cross the Ray boundary packed as plain tuples, and come back equal."""

from __future__ import annotations

import pickle

from actors.tasks import (
    DeviceRef, DeviceResult, DeviceTask, pack_results, pack_tasks, unpack_results, unpack_tasks,
)
from adapters import FaultCode


def test_tasks_come_back_equal_with_their_segment_and_args() -> None:
    tasks = [DeviceTask(DeviceRef("d1", "127.0.0.1", 1502, 3, "controllable_load"),
                        {"setpoint_pct": 0, "revert_timeout_s": 60, "roles": ["measured_kw"]}),
             DeviceTask(DeviceRef("d2", "::1", 1503, 1, "sunspec_inverter", segment="north"))]
    back = unpack_tasks(pickle.loads(pickle.dumps(pack_tasks(tasks))))
    assert back == tasks
    assert [t.device_id for t in back] == ["d1", "d2"] and back[1].ref.segment == "north"
    assert hash(back[0].ref) == hash(tasks[0].ref)   # still usable as keys, as before


def test_results_come_back_equal_and_a_code_is_a_fault_code() -> None:
    results = [DeviceResult("d1", True, values={"measured_kw": 12.5}),
               DeviceResult.fault("d2", FaultCode.DEVICE_TIMEOUT, "no answer within 1.0 s")]
    back = unpack_results(pickle.loads(pickle.dumps(pack_results(results))))
    assert back == results
    assert back[1].code is FaultCode.DEVICE_TIMEOUT and back[0].code is None
    assert all(isinstance(row, tuple) for row in pack_results(results))   # no dataclass crosses
