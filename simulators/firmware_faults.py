"""How an injected firmware fault changes one device's transfers and boots."""

from __future__ import annotations

from .faults import Fault, FaultKind

FLIP_MASK = 0xFF


class FirmwareFaults:
    """The fault injected into a device (or None), and what it has done so far."""

    def __init__(self, fault: Fault | None) -> None:
        self.fault = fault
        self._chunks_written = 0  # accepted chunk writes since injection
        self._chunks_arrived = 0  # chunk write requests since injection
        self._dropped = False

    @property
    def boot_fails(self) -> bool:
        return self._kind is FaultKind.FAILED_BOOT

    @property
    def reboots_forever(self) -> bool:
        return self._kind is FaultKind.ENDLESS_REBOOT

    def drops(self) -> bool:
        """Whether to close the connection on this chunk write request (at most once)."""
        if self._kind is not FaultKind.DROP_MID_TRANSFER:
            return False
        self._chunks_arrived += 1
        if self._dropped or self._chunks_arrived <= self.fault.after_chunks:
            return False
        self._dropped = True
        return True

    def corrupts(self) -> bool:
        """Whether to corrupt this accepted chunk."""
        index, self._chunks_written = self._chunks_written, self._chunks_written + 1
        if self._kind is not FaultKind.CORRUPT_CHUNK:
            return False
        return index == self.fault.chunk or (self.fault.persistent and index > self.fault.chunk)

    @property
    def _kind(self) -> FaultKind | None:
        return None if self.fault is None else self.fault.kind


def flip_byte(data: bytes) -> bytes:
    """``data`` with its middle byte inverted."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ FLIP_MASK]) + data[middle + 1 :]
