"""Fleet specs, layout, inventory and device physics of the simulator."""

from __future__ import annotations

import json

import pytest

from simulators import DeviceSpec, Fault, Fleet, FleetSpec, GatewaySpec, SpecError, UnknownDeviceError, plan_fleet

INVENTORY_KEYS = {"id", "profile", "host", "port", "unit_id", "feeder", "shed_priority", "protected", "rated_kw"}


def layout(**overrides) -> FleetSpec:
    arguments = dict(devices=200, gateways=4, host="127.0.0.1", port=0, seed=1, feeders=4)
    return plan_fleet(**{**arguments, **overrides})


def test_layout_is_deterministic_from_the_seed():
    assert layout() == layout()
    assert layout() != layout(seed=2)


def test_layout_spreads_devices_over_gateways_feeders_and_priorities():
    spec = layout()
    assert [d.id for d in spec.devices[:2]] == ["load-0001", "load-0002"]
    assert {(d.gateway, d.unit_id) for d in spec.devices} == {(g, u) for g in range(4) for u in range(1, 51)}
    assert spec.feeders == ("F1", "F2", "F3", "F4")
    assert {d.shed_priority for d in spec.devices} == {1, 2, 3}
    assert sum(d.protected for d in spec.devices) == 10
    assert all(5 <= d.rated_kw <= 50 and 0.5 <= d.load_factor <= 0.9 for d in spec.devices)


def test_explicit_port_numbers_gateways_consecutively():
    assert [g.port for g in layout(port=15020).gateways] == [15020, 15021, 15022, 15023]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"devices": 248, "gateways": 1}, "do not fit 1 gateways"),
        ({"devices": 0}, "at least one device"),
        ({"feeders": 0}, "feeders must be"),
        ({"port": 65534}, "do not fit"),
    ],
)
def test_impossible_layouts_are_rejected(overrides, problem):
    with pytest.raises(SpecError, match=problem):
        layout(**overrides)


def device_spec(**overrides) -> DeviceSpec:
    fields = dict(
        id="d1", profile="controllable_load", gateway=0, unit_id=1, feeder="F1", shed_priority=1,
        protected=False, rated_kw=10.0, load_factor=0.5, noise_seed=0,
    )
    return DeviceSpec(**{**fields, **overrides})


def test_duplicate_unit_id_on_a_gateway_is_rejected():
    gateway = GatewaySpec(index=0, host="127.0.0.1", port=0)
    with pytest.raises(SpecError, match="unit id 1 on gateway 0 is already used by 'd1'"):
        FleetSpec(gateways=(gateway,), devices=(device_spec(), device_spec(id="d2")))


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [({"unit_id": 0}, "unit_id 0"), ({"unit_id": 248}, "unit_id 248"), ({"shed_priority": 4}, "shed_priority"),
     ({"rated_kw": 0}, "rated_kw"), ({"load_factor": 1.5}, "load_factor")],
)
def test_invalid_device_specs_are_rejected(overrides, problem):
    with pytest.raises(SpecError, match=problem):
        device_spec(**overrides)


def test_unknown_device_and_feeder_are_key_errors():
    fleet = Fleet.build(devices=4, gateways=1, feeders=2)
    with pytest.raises(KeyError, match="no device 'load-9999'"):
        fleet.device("load-9999")
    with pytest.raises(UnknownDeviceError, match="no feeder 'F9'"):
        fleet.feeder_kw("F9")
    with pytest.raises(UnknownDeviceError):
        fleet.inject("load-9999", Fault.drop())


@pytest.mark.parametrize(
    "build", [lambda: Fault.exception(code=0), lambda: Fault.timeout(after_requests=-1)]
)
def test_invalid_faults_are_rejected(build):
    with pytest.raises(ValueError):
        build()


async def test_inventory_lists_every_device_with_its_bound_port(tmp_path):
    fleet = Fleet.build(devices=12, gateways=3, port=0, seed=5, feeders=3)
    await fleet.start()
    try:
        inventory = fleet.inventory()
        path = tmp_path / "inventory.json"
        fleet.write_inventory(path)
        ports = fleet.ports
    finally:
        await fleet.stop()
    assert len(ports) == 3 and len(set(ports)) == 3 and 0 not in ports
    assert json.loads(path.read_text()) == inventory
    assert all(set(record) == INVENTORY_KEYS for record in inventory)
    assert {record["port"] for record in inventory} == set(ports)
    assert inventory[0]["rated_kw"] == fleet.device("load-0001").rated_kw


def test_feeder_power_follows_the_setpoints():
    fleet = Fleet.build(devices=8, gateways=1, feeders=2)
    members = [d for d in fleet.devices if d.spec.feeder == "F1"]
    full = sum(d.rated_kw * d.load_factor for d in members)
    assert fleet.feeder_kw("F1") == pytest.approx(full, rel=0.011)
    for device in members:
        device.write({"curtail_setpoint_pct": 50})
    assert fleet.feeder_kw("F1") == pytest.approx(full / 2, rel=0.011)
    assert [setpoint for _, setpoint in members[0].history] == [50]
