"""``python -m simulators``: serve a simulated fleet until SIGINT or SIGTERM.

Either ``--devices N --gateways G`` (controllable loads) or ``--fleet FLEET.toml``
(a mixed fleet, see simulators/fleets/mixed.toml).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path

from .errors import SpecError, UnknownDeviceError
from .fault_flags import parse_fault, parse_fault_fraction
from .fleet import DEFAULT_FEEDERS, DEFAULT_HOST, DEFAULT_SEED, Fleet

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.fleet is None) == (args.devices is None or args.gateways is None):
        parser.error("give either --fleet FILE, or --devices and --gateways")
    if args.fleet is None and (args.port is None or args.inventory is None):
        parser.error("--devices/--gateways need --port and --inventory")
    try:
        faults = [parse_fault(text) for text in args.fault]
        fractions = [parse_fault_fraction(text) for text in args.fault_fraction]
        fleet = _fleet(args)
        for device_id, fault in faults:
            fleet.inject(device_id, fault)
        for index, (fault, fraction) in enumerate(fractions):
            fleet.inject_fraction(fault, fraction=fraction, seed=args.seed + 1000 + index)
    except (ValueError, SpecError, UnknownDeviceError) as exc:
        parser.error(str(exc))
    asyncio.run(_serve(fleet, args))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--fleet", type=Path, help="fleet file (TOML) describing a mixed fleet")
    parser.add_argument("--devices", type=int, help="number of controllable loads (without --fleet)")
    parser.add_argument("--gateways", type=int, help="number of gateways (TCP listeners) (without --fleet)")
    parser.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help="first port; 0 picks free ports")
    parser.add_argument("--inventory", type=Path, help="write the device inventory JSON here")
    parser.add_argument("--faults-out", type=Path, help="write which device has which fault (JSON) here")
    parser.add_argument("--keys-out", type=Path,
                        help="write each secure device's auth key (JSON, file mode 0600) here; never in the inventory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="layout, noise and fault-choice seed")
    parser.add_argument("--feeders", type=int, default=DEFAULT_FEEDERS, help="number of feeders (without --fleet)")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="DEVICE_ID=KIND[:K=V,...]",
        help="inject a fault, e.g. load-0002=exception:code=4, pv-0001=latency:min_s=0.1,max_s=0.3, "
             "rtu-0001=corrupt_chunk:chunk=3,persistent=true or (a write applied, its answer lost) "
             "load-0003=late_answer:delay_s=1.3,roles=curtail_setpoint_pct+revert_timeout_s,times=1 / "
             "load-0004=drop_after_apply (repeatable)",
    )
    parser.add_argument(
        "--fault-fraction", action="append", default=[], metavar="KIND[:K=V,...]=FRACTION",
        help="inject a fault into a seeded fraction of the fault-free devices, e.g. timeout=0.1 (repeatable)",
    )
    return parser


def _fleet(args: argparse.Namespace) -> Fleet:
    if args.fleet is not None:
        return Fleet.from_toml(args.fleet, host=args.host, port=args.port)
    return Fleet.build(devices=args.devices, gateways=args.gateways, host=args.host or DEFAULT_HOST,
                       port=args.port, seed=args.seed, feeders=args.feeders)


async def _serve(fleet: Fleet, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        await fleet.start()
        if args.inventory is not None:
            fleet.write_inventory(args.inventory)
        if args.faults_out is not None:
            fleet.write_faults(args.faults_out)
        if args.keys_out is not None:
            fleet.write_keys(args.keys_out)
        ports = ",".join(str(port) for port in fleet.ports)
        print(f"listening ports={ports} devices={len(fleet.devices)} inventory={args.inventory}", flush=True)
        await stop.wait()
    finally:
        await fleet.stop()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
