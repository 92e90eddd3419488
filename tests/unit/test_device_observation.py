"""What a test can watch on a simulated device: each applied write as it lands, and the
curtailments the device's own dead-man timer released."""

from __future__ import annotations

from adapters import load_profile
from simulators import DeviceSpec, Fleet, LoadPhysics, SimulatedDevice, SimulatedInverter
from simulators.devices import served_map

SETPOINT, TIMER, ENABLE = "curtail_setpoint_pct", "revert_timeout_s", "curtail_enable"
FLEET = {
    "fleet": {"sample_interval_s": 0, "feeders": 1},
    "group": [{"name": "load", "profile": "controllable_load", "count": 2}],
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def spec(profile: str) -> DeviceSpec:
    return DeviceSpec(id=f"{profile}-1", profile=profile, gateway=0, unit_id=1, feeder="F1", shed_priority=1,
                      protected=False, rated_kw=10.0, load_factor=0.5, noise_seed=1)


def test_a_listener_sees_every_applied_write_until_it_stops():
    fleet = Fleet.from_spec_document(FLEET)
    seen = []
    stop = fleet.watch_writes(lambda device_id, record: seen.append((device_id, dict(record.values))))
    fleet.device("load-0001").receive_write(address=0, words=[], values={SETPOINT: 0, TIMER: 30})
    fleet.device("load-0002").receive_write(address=0, words=[], values={SETPOINT: 50})
    stop()
    fleet.device("load-0001").receive_write(address=0, words=[], values={SETPOINT: 100})
    assert seen == [("load-0001", {SETPOINT: 0, TIMER: 30}), ("load-0002", {SETPOINT: 50})]


def test_a_load_counts_the_curtailments_its_timer_released():
    clock = Clock()
    device = SimulatedDevice(spec=spec("controllable_load"), profile=load_profile("controllable_load"),
                             physics=LoadPhysics(), clock=clock)
    device.write({TIMER: 5, SETPOINT: 0})
    clock.now += 6
    assert device.setpoint_pct == 100 and device.counters.timer_releases == 1
    device.write({TIMER: 5})  # a timer with nothing to release
    clock.now += 6
    assert device.setpoint_pct == 100 and device.counters.timer_releases == 1


def test_an_inverter_counts_a_release_only_when_a_limit_was_in_force():
    clock = Clock()
    profile = load_profile("sunspec_der")
    device = SimulatedInverter(spec=spec("sunspec_der"), profile=profile, image=served_map(profile).profile,
                               physics=LoadPhysics(), clock=clock)
    device.write({"123.WMaxLimPct_RvrtTms": 5, "123.WMaxLimPct": 40, "123.WMaxLim_Ena": 1})
    clock.now += 6
    assert device.setpoint_pct == 100 and device.counters.timer_releases == 1
    device.write({"123.WMaxLimPct": 100, "123.WMaxLim_Ena": 1})
    clock.now += 6
    assert device.counters.timer_releases == 1
