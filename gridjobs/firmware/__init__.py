"""Firmware: images stored in Postgres (artifacts), read back in byte ranges."""

from __future__ import annotations

# A profile supports firmware updates when it maps all of these roles.
FIRMWARE_ROLES = frozenset({"firmware_version", "fw_chunk_data", "fw_activate"})
