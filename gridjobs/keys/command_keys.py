"""The keys a run authenticates its critical commands with: each device's active key."""

from __future__ import annotations

from typing import Iterable

from adapters import AuthKey
from gridjobs.dispatch.context import RunContext
from gridjobs.errors import ConfigError
from actors.tasks import DeviceResult
from gridjobs.keys import store
from gridjobs.keys.audit import AuditEntry, record_audit
from gridjobs.records import Device


async def audit_commands(ctx: RunContext, step: str, results: Iterable[DeviceResult],
                         keys: dict[str, AuthKey]) -> None:
    """Append an audit line for every authenticated command a step sent."""
    entries = [AuditEntry(ctx.operation.id, r.device_id, step, keys[r.device_id].version,
                          "ok" if r.ok else (r.code or "failed")) for r in results if r.device_id in keys]
    await record_audit(ctx.pool, entries)


async def command_keys(ctx: RunContext, devices: Iterable[Device]) -> dict[str, AuthKey]:
    """Active keys of the devices whose profile authenticates commands (none needed: {})."""
    secured = [d.id for d in devices if ctx.profiles.requires_auth(d.profile)]
    if not secured:
        return {}
    if ctx.keys is None:
        raise ConfigError("devices in this operation authenticate commands, but gridjobs has "
                          "no master key (GRIDJOBS_MASTER_KEY_FILE)")
    held = await store.keys_for(ctx.pool, ctx.keys, secured, states=("active",))
    return {d: AuthKey(records[0].version, records[0].secret) for d, records in held.items() if records}
