"""`gridjobs keys …`: admin verbs that talk to Postgres directly, as `serve` does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gridjobs.config import Settings
from gridjobs.device_keys.master import MasterKey, ensure_master_key, load_master_key
from gridjobs.device_keys.provisioning import ProvisionCounts, provision, read_keys_file
from gridjobs.device_keys.store import KeySlot, Rewrapped, rewrap_all, slots
from gridjobs.bootstrap import database
from gridjobs.store.database import create_pool, migrate


async def _with_pool(dsn: str, work):
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        return await work(pool)
    finally:
        await pool.close()


def provision_file(settings: Settings, keys_file: Path) -> ProvisionCounts:
    keys = read_keys_file(keys_file)  # refuse a bad file before starting anything
    with database(settings) as resolved:
        master = load_master_key(resolved.master_key_file)
        return asyncio.run(_with_pool(resolved.database_url,
                                      lambda pool: provision(pool, master, keys)))


def rotate_master(settings: Settings, new_key_file: Path) -> tuple[Rewrapped, MasterKey]:
    """Rewrap every device key under the key in `new_key_file` (created if absent)."""
    with database(settings) as resolved:
        old = load_master_key(resolved.master_key_file)
        new = ensure_master_key(new_key_file)
        done = asyncio.run(_with_pool(resolved.database_url,
                                      lambda pool: rewrap_all(pool, old, new)))
        return done, new


def device_slots(settings: Settings, device_id: str) -> list[KeySlot]:
    with database(settings) as resolved:
        return asyncio.run(_with_pool(resolved.database_url, lambda pool: slots(pool, device_id)))


def run_keys(settings: Settings, action: str, args) -> int:
    if action == "provision":
        counts = provision_file(settings, args.file)
        print(f"provisioned {counts.stored + counts.unchanged} keys: {counts.stored} stored, "
              f"{counts.unchanged} already present")
    elif action == "rotate-master":
        done, new = rotate_master(settings, args.new_key_file)
        print(f"rewrapped {done.keys} device keys under master key version {done.master_version} "
              f"({new.fingerprint}); from now on set GRIDJOBS_MASTER_KEY_FILE={args.new_key_file}")
    else:
        for slot in device_slots(settings, args.device_id):
            print(f"{slot.version:>6}  {slot.state}")
    return 0
