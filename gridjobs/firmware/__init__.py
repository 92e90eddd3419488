"""Firmware: images stored in Postgres (artifacts), read back in byte ranges."""

from __future__ import annotations

from adapters import FIRMWARE_ROLES  # noqa: F401  (a profile supports firmware updates when it has them all)

DEFAULT_FIRMWARE_MAX_BYTES = 16 * 1024 * 1024
