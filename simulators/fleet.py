"""A fleet of simulated devices behind simulated gateways, served over real Modbus/TCP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters import load_profile

from .device import SimulatedDevice
from .errors import SimulatorError, UnknownDeviceError
from .faults import Fault
from .gateway import GatewayServer
from .layout import plan_fleet
from .physics import LoadPhysics
from .registers import RegisterMap
from .spec import FleetSpec

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0
DEFAULT_SEED = 1
DEFAULT_FEEDERS = 4
DEFAULT_PHYSICS = LoadPhysics()


class Fleet:
    """Runtime for a ``FleetSpec``: device models, gateway servers, fault injection."""

    def __init__(self, *, spec: FleetSpec, physics: LoadPhysics = DEFAULT_PHYSICS) -> None:
        self.spec = spec
        profiles = {name: load_profile(name) for name in {d.profile for d in spec.devices}}
        self._register_maps = {name: RegisterMap(profile) for name, profile in profiles.items()}
        self._devices = {
            d.id: SimulatedDevice(spec=d, profile=profiles[d.profile], physics=physics) for d in spec.devices
        }
        self._servers: list[GatewayServer] = []
        self._ports: list[int] = []

    @classmethod
    def build(
        cls,
        *,
        devices: int,
        gateways: int,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        seed: int = DEFAULT_SEED,
        feeders: int = DEFAULT_FEEDERS,
        physics: LoadPhysics = DEFAULT_PHYSICS,
    ) -> Fleet:
        spec = plan_fleet(devices=devices, gateways=gateways, host=host, port=port, seed=seed, feeders=feeders)
        return cls(spec=spec, physics=physics)

    async def start(self) -> None:
        """Start one server per gateway in the running loop; return once all listen."""
        if self._servers:
            raise SimulatorError("fleet is already started")
        try:
            for gateway in self.spec.gateways:
                await self._start_gateway(gateway.index)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Close every server and connection. Idempotent."""
        servers, self._servers, self._ports = self._servers, [], []
        for server in servers:
            await server.stop()

    @property
    def ports(self) -> list[int]:
        """Bound ports, one per gateway, in gateway order."""
        if not self._ports:
            raise SimulatorError("fleet is not started")
        return list(self._ports)

    @property
    def devices(self) -> list[SimulatedDevice]:
        return list(self._devices.values())

    def device(self, device_id: str) -> SimulatedDevice:
        try:
            return self._devices[device_id]
        except KeyError:
            raise UnknownDeviceError(f"no device {device_id!r} in the fleet") from None

    def inject(self, device_id: str, fault: Fault) -> None:
        self.device(device_id).inject(fault)

    def clear_faults(self, device_id: str) -> None:
        self.device(device_id).clear_fault()

    def feeder_kw(self, feeder: str) -> float:
        """Sum of measured power of every device on ``feeder``."""
        members = [device for device in self._devices.values() if device.spec.feeder == feeder]
        if not members:
            raise UnknownDeviceError(f"no feeder {feeder!r} in the fleet (feeders: {self.spec.feeders})")
        return sum(device.measured_kw() for device in members)

    def inventory(self) -> list[dict[str, Any]]:
        """One record per device, as a control system would import it. Needs a started fleet."""
        ports = self.ports
        hosts = [gateway.host for gateway in self.spec.gateways]
        return [_inventory_record(d.spec, host=hosts[d.spec.gateway], port=ports[d.spec.gateway]) for d in self.devices]

    def write_inventory(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.inventory(), indent=2) + "\n", encoding="utf-8")

    async def _start_gateway(self, index: int) -> None:
        gateway = self.spec.gateways[index]
        units = {d.spec.unit_id: d for d in self._devices.values() if d.spec.gateway == index}
        server = GatewayServer(
            host=gateway.host, port=gateway.port, units=units, register_maps=self._register_maps
        )
        self._servers.append(server)
        self._ports.append(await server.start())


def _inventory_record(spec, *, host: str, port: int) -> dict[str, Any]:
    return {
        "id": spec.id,
        "profile": spec.profile,
        "host": host,
        "port": port,
        "unit_id": spec.unit_id,
        "feeder": spec.feeder,
        "shed_priority": spec.shed_priority,
        "protected": spec.protected,
        "rated_kw": spec.rated_kw,
    }
