"""The four operation kinds as chaos subjects: a small fleet, the operations to submit,
how long a run lasts and how many writes a device takes (to draw kill points), and
the invariants to read from the devices afterwards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import httpx

from adapters import AuthKey
from gridjobs.device_keys import load_master_key
from gridjobs.device_keys.provisioning import ProvisionedKey, provision
from gridjobs.device_keys.store import keys_for
from gridjobs.store.database import create_pool
from simulators import DeviceBase, Fleet, SimulatedSecureLoad
from tests.chaos.marks import KillMark, hold_ends
from tests.chaos.truth import Truth, curtailment_truth, rollout_truth, rotation_truth

FEEDERS = ["F1", "F2"]
STEADY = {"noise_fraction": 0.0, "ramp_s": 0.0}
HOLD_S = 3
REVERT_TIMEOUT_S = 30
SHORT_REVERT_TIMEOUT_S = 4
FIRMWARE = ("4.2.0", "4.2.1")
IMAGE_BYTES = 20 * 240 + 17  # twenty full chunks and a short one


@dataclass
class Run:
    """One server's database, directory and master key, and what was submitted to it."""

    name: str
    db_url: str
    directory: Path
    rng: random.Random
    image_bytes: int = 0

    @property
    def master_key_file(self) -> Path:
        return self.directory / "master.key"  # ServerProcess creates it


class Kind(Protocol):
    name: str
    feeders: tuple[str, ...]
    group: dict[str, Any]  # the fleet document's group for this kind (its feeders added)
    horizon_s: float  # a time kill is drawn within this many seconds of the server coming up
    writes_per_device: int  # a write kill is drawn among a device's first this many writes

    def fleet(self, seed: int) -> Fleet: ...

    async def bodies(self, client: httpx.AsyncClient, fleet: Fleet, run: Run) -> list[dict[str, Any]]: ...

    async def truth(self, fleet: Fleet, marks: Sequence[KillMark], ops: Sequence[dict], run: Run) -> Truth: ...


def fleet_of(seed: int, parts: Sequence["Kind"]) -> Fleet:
    """One fleet holding each part's group, on the part's own feeders."""
    feeders = [f for part in parts for f in part.feeders]
    document = {"fleet": {"seed": seed, "gateways": 2, "feeders": feeders, "sample_interval_s": 0},
                "group": [{**part.group, "feeders": list(part.feeders)} for part in parts]}
    return Fleet.from_spec_document(document, host="127.0.0.1", port=0)


def _on(fleet: Fleet, feeders: Sequence[str]) -> list[DeviceBase]:
    return [d for d in fleet.devices if d.spec.feeder in feeders]


def _reported_left(ops: Sequence[dict]) -> set[str]:
    return {e["device_id"] for op in ops for e in ((op.get("result") or {}).get("left_curtailed") or [])}


class _Part:
    name: str
    group: dict[str, Any]

    def __init__(self, feeders: Sequence[str] = FEEDERS) -> None:
        self.feeders = tuple(feeders)

    def fleet(self, seed: int) -> Fleet:
        return fleet_of(seed, [self])


class LoadShed(_Part):
    name, horizon_s, writes_per_device = "load_shed", 5.0, 3
    group = {"name": "load", "profile": "controllable_load", "count": 12, "rated_kw": [10.0, 30.0],
             "load_factor": 0.8, "protected_fraction": 0.0, "shed_priorities": [1, 2], "physics": STEADY}
    share, target = 0.5, "target_kw"

    def __init__(self, feeders: Sequence[str] = FEEDERS, *, hold_s: float = HOLD_S, share: float | None = None,
                 revert_timeout_s: int = REVERT_TIMEOUT_S) -> None:
        super().__init__(feeders)
        self.hold_s, self.revert_timeout_s = hold_s, revert_timeout_s
        self.share = self.share if share is None else share

    async def bodies(self, client, fleet, run):
        return [{"kind": self.name, "params": {
            "scope": {"feeders": [feeder]}, "hold_s": self.hold_s, "restore": {"stages": 2, "stage_delay_s": 0.5},
            "revert_timeout_s": self.revert_timeout_s, "verify_settle_s": 1,
            self.target: round(self.share * sum(d.measured_kw() for d in _on(fleet, [feeder])), 1)}}
            for feeder in self.feeders]

    async def truth(self, fleet, marks, ops, run):
        ends = await hold_ends(run.db_url, [op["id"] for op in ops])
        return curtailment_truth(_on(fleet, self.feeders), marks, _reported_left(ops), ends)


class DerCurtailment(LoadShed):
    name, horizon_s, writes_per_device = "der_curtailment", 6.0, 7
    group = {"name": "pv", "profile": "sunspec_der", "count": 8, "rated_kw": [20.0, 60.0],
             "load_factor": 0.8, "shed_priorities": [3], "physics": STEADY}
    share, target = 0.4, "reduce_kw"


class FirmwareRollout(_Part):
    name, horizon_s, writes_per_device = "firmware_rollout", 8.0, IMAGE_BYTES // 240 + 4
    group = {"name": "rtu", "profile": "rtu", "count": 8, "firmware_version": FIRMWARE[0],
             "reboot_s": 0.3, "confirm_window_s": 600.0}

    async def bodies(self, client, fleet, run):
        image = run.rng.randbytes(IMAGE_BYTES)
        run.image_bytes = len(image)
        r = await client.post("/v1/firmware", params={"version": FIRMWARE[1], "profile": "rtu"}, content=image,
                              headers={"content-type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return [{"kind": self.name, "params": {
            "firmware_id": r.json()["id"], "scope": {"feeders": list(self.feeders)}, "waves": ["25%", "100%"],
            "max_parallel": 4, "device_timeout_s": 60}}]

    async def truth(self, fleet, marks, ops, run):
        return rollout_truth(_on(fleet, self.feeders), marks, size=run.image_bytes, version=FIRMWARE[1])


class KeyRotation(_Part):
    name, horizon_s, writes_per_device = "key_rotation", 3.0, 10
    group = {"name": "sec", "profile": "secure_load", "count": 24}

    def __init__(self, feeders: Sequence[str] = FEEDERS, *, failure_threshold_pct: float = 20.0) -> None:
        super().__init__(feeders)
        self.failure_threshold_pct = failure_threshold_pct

    async def bodies(self, client, fleet, run):
        devices = [d for d in _on(fleet, self.feeders) if isinstance(d, SimulatedSecureLoad)]
        keys = [ProvisionedKey(d.id, d.auth.active.version, d.auth.active.secret) for d in devices]
        pool = await create_pool(run.db_url, min_size=1, max_size=1)
        try:
            await provision(pool, load_master_key(run.master_key_file), keys)
        finally:
            await pool.close()
        return [{"kind": self.name, "params": {"scope": {"feeders": [feeder]}, "max_parallel": 3,
                                               "failure_threshold_pct": self.failure_threshold_pct}}
                for feeder in self.feeders]

    async def truth(self, fleet, marks, ops, run):
        devices = _on(fleet, self.feeders)
        return rotation_truth(devices, marks, await store_active(run, [d.id for d in devices]))


async def store_active(run: Run, device_ids: list[str]) -> dict[str, AuthKey]:
    """The key the store says is active, per device (the only thing read from the key store)."""
    pool = await create_pool(run.db_url, min_size=1, max_size=1)
    try:
        held = await keys_for(pool, load_master_key(run.master_key_file), device_ids, states=("active",))
    finally:
        await pool.close()
    return {d: AuthKey(keys[0].version, keys[0].secret) for d, keys in held.items() if len(keys) == 1}


# Campaign kinds: a short dead-man timer, so a kill often outlasts it and devices release
# themselves while gridjobs is down (a resumed hold must re-apply them, and only then).
KINDS: dict[str, Kind] = {k.name: k for k in (
    LoadShed(revert_timeout_s=SHORT_REVERT_TIMEOUT_S), DerCurtailment(revert_timeout_s=SHORT_REVERT_TIMEOUT_S),
    FirmwareRollout(), KeyRotation())}
