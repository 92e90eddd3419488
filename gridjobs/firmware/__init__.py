"""Firmware: images stored in Postgres (artifacts), read back in byte ranges.

A profile supports firmware updates when it has every role of `adapters.FIRMWARE_ROLES`.
"""
