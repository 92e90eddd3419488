"""Ray actors: DeviceShard holds per-device state and runs step programs.

Imports only `adapters` (plus Ray and asyncpg); knows nothing about HTTP or
operations, only about devices and the steps it can run on them.
"""
