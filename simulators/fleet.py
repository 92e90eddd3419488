"""A fleet of simulated devices behind simulated gateways, served over real Modbus/TCP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adapters import load_profile

from .device_base import DeviceBase
from .devices import build_device, served_map
from .errors import SimulatorError, UnknownDeviceError
from .faults import Fault
from .fleet_document import FleetPlan, load_fleet_file, parse_fleet_document
from .gateway import GatewayServer
from .key_file import write_key_file
from .layout import plan_fleet
from .physics import LoadPhysics
from .secure_load import SimulatedSecureLoad
from .sampler import DEFAULT_SAMPLE_INTERVAL_S, FeederSampler
from .spec import DeviceSpec, FleetSpec
from .write_log import WriteListener, WriteRecord

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0
DEFAULT_SEED = 1
DEFAULT_FEEDERS = 4
DEFAULT_PHYSICS = LoadPhysics()


class Fleet:
    """Runtime for a ``FleetSpec``: device models, gateway servers, feeder sampler, fault injection."""

    def __init__(
        self,
        *,
        spec: FleetSpec,
        physics: LoadPhysics = DEFAULT_PHYSICS,
        sample_interval_s: float | None = DEFAULT_SAMPLE_INTERVAL_S,
        profile_dirs: Sequence[Path] = (),
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.spec = spec
        profiles = {name: load_profile(name, search_dirs=profile_dirs) for name in {d.profile for d in spec.devices}}
        self._register_maps = {name: served_map(profile) for name, profile in profiles.items()}
        self._devices = {
            d.id: build_device(d, profile=profiles[d.profile], register_map=self._register_maps[d.profile],
                               physics=physics, seed=seed)
            for d in spec.devices
        }
        feeders = {feeder: [d for d in self._devices.values() if d.spec.feeder == feeder] for feeder in spec.feeders}
        self._sampler = FeederSampler(feeders=feeders, interval_s=sample_interval_s) if sample_interval_s else None
        self._sampling: asyncio.Task | None = None
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
        sample_interval_s: float | None = DEFAULT_SAMPLE_INTERVAL_S,
    ) -> Fleet:
        """Controllable loads only, laid out from a seed (see ``plan_fleet``)."""
        spec = plan_fleet(devices=devices, gateways=gateways, host=host, port=port, seed=seed, feeders=feeders)
        return cls(spec=spec, physics=physics, sample_interval_s=sample_interval_s, seed=seed)

    @classmethod
    def from_toml(cls, path: str | Path, *, host: str | None = None, port: int | None = None) -> Fleet:
        """A (mixed) fleet from a fleet file, with the file's faults injected."""
        return cls.from_plan(load_fleet_file(path, host=host, port=port))

    @classmethod
    def from_spec_document(cls, document: dict[str, Any], *, host: str | None = None, port: int | None = None) -> Fleet:
        """Like ``from_toml``, from an already parsed document."""
        return cls.from_plan(parse_fleet_document(document, host=host, port=port))

    @classmethod
    def from_plan(cls, plan: FleetPlan) -> Fleet:
        fleet = cls(spec=plan.spec, physics=plan.physics, sample_interval_s=plan.sample_interval_s,
                    profile_dirs=plan.profile_dirs, seed=plan.seed)
        for index, planned in enumerate(plan.faults):
            if planned.device is not None:
                fleet.inject(planned.device, planned.fault)
            else:
                among = plan.groups[planned.group] if planned.group else None
                fleet.inject_fraction(planned.fault, fraction=planned.fraction, seed=plan.seed + index, among=among)
        return fleet

    async def start(self) -> None:
        """Start one server per gateway and the feeder sampler; return once all listen."""
        if self._servers:
            raise SimulatorError("fleet is already started")
        try:
            for gateway in self.spec.gateways:
                await self._start_gateway(gateway.index)
        except BaseException:
            await self.stop()
            raise
        for device in self._devices.values():
            device.rearm_fault()  # offline windows count from the start
        if self._sampler is not None:
            self._sampling = asyncio.create_task(self._sampler.run(), name="fleet-feeder-sampler")

    async def stop(self) -> None:
        """Stop the sampler, close every server and connection. Idempotent."""
        sampling, self._sampling = self._sampling, None
        if sampling is not None:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
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
    def devices(self) -> list[DeviceBase]:
        return list(self._devices.values())

    def device(self, device_id: str) -> DeviceBase:
        try:
            return self._devices[device_id]
        except KeyError:
            raise UnknownDeviceError(f"no device {device_id!r} in the fleet") from None

    def inject(self, device_id: str, fault: Fault) -> None:
        self.device(device_id).inject(fault)

    def inject_fraction(
        self, fault: Fault, *, fraction: float, seed: int, among: Sequence[str] | None = None
    ) -> list[str]:
        """Inject ``fault`` into a seeded choice of ``fraction`` of the fault-free devices; return their ids."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        pool = sorted(i for i in (among if among is not None else self._devices) if self.device(i).fault is None)
        chosen = sorted(random.Random(seed).sample(pool, k=round(len(pool) * fraction)))
        for device_id in chosen:  # all or none
            self.device(device_id).check_fault(fault)
        for device_id in chosen:
            self.inject(device_id, fault)
        return chosen

    def clear_faults(self, device_id: str) -> None:
        self.device(device_id).clear_fault()

    def write_log(self, device_id: str) -> list[WriteRecord]:
        """The writes ``device_id`` applied, oldest first (the last ``WRITE_LOG_LIMIT``)."""
        return list(self.device(device_id).write_log)

    def watch_writes(self, listener: WriteListener) -> Callable[[], None]:
        """Call ``listener(device_id, record)`` after every write any device applies, before
        the device answers it; stop when the returned function is called."""
        for device in self._devices.values():
            device.add_write_listener(listener)

        def stop() -> None:
            for device in self._devices.values():
                device.remove_write_listener(listener)
        return stop

    def faulty_devices(self) -> dict[str, Fault]:
        """Every device with an injected fault, and the fault."""
        return {device.id: device.fault for device in self._devices.values() if device.fault is not None}

    def feeder_kw(self, feeder: str) -> float:
        """Sum of measured power of every device on ``feeder``."""
        return sum(device.measured_kw() for device in self._members(feeder))

    def feeder_peak_kw(self, feeder: str, *, since: float) -> float:
        """Highest noise-free feeder power sampled since ``since`` (``time.monotonic()``), now included."""
        self._members(feeder)
        if self._sampler is None:
            raise SimulatorError("feeder sampling is off (sample_interval_s=None)")
        return self._sampler.peak_kw(feeder, since=since)

    def inventory(self) -> list[dict[str, Any]]:
        """One record per device, as a control system would import it. Needs a started fleet."""
        ports = self.ports
        hosts = [gateway.host for gateway in self.spec.gateways]
        return [_inventory_record(d.spec, host=hosts[d.spec.gateway], port=ports[d.spec.gateway]) for d in self.devices]

    def write_inventory(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.inventory(), indent=2) + "\n", encoding="utf-8")

    def write_faults(self, path: str | Path) -> None:
        """``{device_id: {"kind": ..., parameters}}`` for every faulty device."""
        described = {device_id: fault.describe() for device_id, fault in self.faulty_devices().items()}
        Path(path).write_text(json.dumps(described, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def write_keys(self, path: str | Path) -> None:
        """``[{"device_id", "version", "secret_b64"}]``: the active key of every secure device, file mode 0600."""
        secure = (d for d in self._devices.values() if isinstance(d, SimulatedSecureLoad))
        write_key_file(path, {device.id: device.auth.active for device in secure})

    def _members(self, feeder: str) -> list[DeviceBase]:
        members = [device for device in self._devices.values() if device.spec.feeder == feeder]
        if not members:
            raise UnknownDeviceError(f"no feeder {feeder!r} in the fleet (feeders: {self.spec.feeders})")
        return members

    async def _start_gateway(self, index: int) -> None:
        gateway = self.spec.gateways[index]
        units = {d.spec.unit_id: d for d in self._devices.values() if d.spec.gateway == index}
        server = GatewayServer(host=gateway.host, port=gateway.port, units=units, register_maps=self._register_maps)
        self._servers.append(server)
        self._ports.append(await server.start())


def _inventory_record(spec: DeviceSpec, *, host: str, port: int) -> dict[str, Any]:
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
