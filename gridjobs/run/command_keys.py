"""The keys a run authenticates its critical commands with, and their audit."""

from __future__ import annotations

from typing import Iterable

from actors.tasks import DeviceResult
from adapters import AuthKey
from gridjobs.device_keys.audit import AuditEntry
from gridjobs.errors import ConfigError
from gridjobs.records import Device
from gridjobs.run.context import RunContext
from gridjobs.run.ports import CommandKeys


async def command_keys(ctx: RunContext, devices: Iterable[Device]) -> CommandKeys:
    """Active keys of the devices whose profile authenticates commands (none needed: {})."""
    secured = [d.id for d in devices if ctx.profiles.requires_auth(d.profile)]
    if not secured:
        return {}
    if ctx.key_store is None:
        raise ConfigError("devices in this operation authenticate commands, but gridjobs has "
                          "no master key (GRIDJOBS_MASTER_KEY_FILE)")
    held = await ctx.key_store.held(secured, states=("active",))
    return {d: AuthKey(records[0].version, records[0].secret) for d, records in held.items() if records}


async def audit_commands(ctx: RunContext, step: str, results: Iterable[DeviceResult],
                         keys: CommandKeys) -> None:
    """Append an audit line for every authenticated command a step sent."""
    entries = [AuditEntry(ctx.operation_id, r.device_id, step, keys[r.device_id].version,
                          "ok" if r.ok else (r.code or "failed")) for r in results if r.device_id in keys]
    if entries and ctx.key_store is not None:
        await ctx.key_store.audit(entries)
