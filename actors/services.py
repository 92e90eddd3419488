"""What a shard needs besides the devices: somewhere to keep device state, and
a source of firmware bytes and transfer offsets.

The shard knows these only as protocols. Whoever creates the shards passes a
picklable factory (`ShardConfig.services`), called once inside the shard's
own process: gridjobs passes one backed by Postgres, tests pass in-memory
ones. Without a factory a shard keeps device state in memory and has no
firmware source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol

from actors.tasks import DeviceState


class DeviceStateStore(Protocol):
    async def load(self, device_ids: list[str]) -> dict[str, DeviceState]: ...

    async def save(self, items: Iterable[tuple[str, DeviceState]]) -> None: ...

    async def close(self) -> None: ...


class FirmwareSource(Protocol):
    async def read(self, artifact_id: str, offset: int, length: int) -> bytes: ...

    async def offset(self, operation_id: str, device_id: str, artifact_id: str) -> int: ...

    async def save_offset(self, operation_id: str, device_id: str, artifact_id: str,
                          offset: int) -> None: ...

    async def close(self) -> None: ...


class MemoryDeviceState:
    """Device state that lives as long as the shard: nothing survives a restart."""

    def __init__(self) -> None:
        self._saved: dict[str, DeviceState] = {}

    async def load(self, device_ids: list[str]) -> dict[str, DeviceState]:
        return {d: self._saved[d] for d in device_ids if d in self._saved}

    async def save(self, items: Iterable[tuple[str, DeviceState]]) -> None:
        self._saved.update(items)

    async def close(self) -> None:
        pass


class NoFirmware:
    """The firmware source of a shard created without one: every use is an error."""

    async def read(self, artifact_id: str, offset: int, length: int) -> bytes:
        raise RuntimeError("this shard has no firmware source (ShardConfig.services)")

    offset = save_offset = read  # type: ignore[assignment]

    async def close(self) -> None:
        pass


@dataclass(frozen=True)
class ShardServices:
    device_state: DeviceStateStore = field(default_factory=MemoryDeviceState)
    firmware: FirmwareSource = field(default_factory=NoFirmware)

    async def close(self) -> None:
        await self.device_state.close()
        await self.firmware.close()


ServicesFactory = Callable[[], ShardServices]
