"""Benchmark: what a shard holds per device, apart from its allocator's high-water mark.

    python bench/shard_memory.py [--devices 10000] [--json]

bench/scale.py divides the shard processes' RSS by the devices. That RSS
includes the peak of a batch (every device's coroutine, task, request and
result alive at once), which CPython's allocator keeps after the batch ends.
This script drives one `DeviceShardImpl` in this process (no Ray; in-memory
device state) through a survey, a curtailment and a restore of every device of
a simulated fleet (`python -m simulators`, a subprocess), and reports from
tracemalloc:

- retained: Python memory still allocated after the batches (the per-device
  state, locks, sessions and layouts), divided by devices. Goal: <= 2 KiB;
- peak: the most allocated at once during a batch, divided by devices;
- RSS of this process before and after, divided by devices (what the
  allocator kept).

A benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import sys
import tempfile
import tracemalloc
import uuid
from pathlib import Path

from actors.shard import DeviceShardImpl, ShardConfig
from actors.step_names import Step
from actors.tasks import DeviceRef, DeviceTask
from adapters import Role
from scale import GOAL_BYTES_PER_DEVICE, rss_bytes
from services import exit_on_sigterm
from shed import DEVICES_PER_GATEWAY, await_listening, sheddable, start_simulator


REVERT_TIMEOUT_S = 120


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/shard_memory.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", type=int, default=10_000)
    p.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    return p.parse_args(argv)


def tasks(devices: list[dict], **args) -> list[DeviceTask]:
    return [DeviceTask(DeviceRef(d["id"], d["host"], d["port"], d["unit_id"], d["profile"]), dict(args))
            for d in devices]


async def measure(devices: list[dict]) -> dict:
    op = str(uuid.uuid4())
    gc.collect()
    rss_before = rss_bytes([os.getpid()])
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    shard = DeviceShardImpl(0, ShardConfig())
    peaks = {}
    try:
        for step, args in ((Step.SURVEY, {"roles": [Role.MEASURED_KW]}),
                           (Step.CURTAIL, {"setpoint_pct": 50, "revert_timeout_s": REVERT_TIMEOUT_S}),
                           (Step.RESTORE, {})):
            tracemalloc.reset_peak()
            results = await shard.execute(op, step, tasks(devices, **args))
            failed = sum(1 for r in results if not r.ok)
            peaks[str(step)] = {"peak": tracemalloc.get_traced_memory()[1] - base, "failed": failed}
            del results
        for _ in range(3):   # the loop lets go of the handle that resumed this task (and its gather)
            await asyncio.sleep(0)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
        rss_after = rss_bytes([os.getpid()])
    finally:
        tracemalloc.stop()
        await shard.close()
    n = len(devices)
    return {
        "devices": n,
        "retained_bytes_per_device": round(retained / n),
        "peak_bytes_per_device": {s: round(p["peak"] / n) for s, p in peaks.items()},
        "failed": {s: p["failed"] for s, p in peaks.items()},
        "rss_growth_bytes_per_device": round((rss_after - rss_before) / n),
    }


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gridjobs-bench-shard-memory-") as tmp:
        sim, inventory = start_simulator(Path(tmp), devices=args.devices,
                                         gateways=math.ceil(args.devices / DEVICES_PER_GATEWAY))
        try:
            await_listening(sim)
            devices = sheddable(json.loads(inventory.read_text()))
            result = asyncio.run(measure(devices))
        finally:
            sim.stop()
    print(f"shard memory, {result['devices']} devices driven by one shard (tracemalloc):")
    print(f"  retained after survey, curtail and restore: {result['retained_bytes_per_device']} B per device "
          f"(goal <= {GOAL_BYTES_PER_DEVICE})")
    print(f"  peak during a batch: {json.dumps(result['peak_bytes_per_device'])} B per device")
    print(f"  RSS growth of the process: {result['rss_growth_bytes_per_device']} B per device; "
          f"failed devices per step: {json.dumps(result['failed'])}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
