"""``python -m simulators``: serve a simulated fleet until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path

from .faults import Fault
from .fleet import DEFAULT_FEEDERS, DEFAULT_HOST, DEFAULT_SEED, Fleet

FAULTS = {"timeout": Fault.timeout, "exception": Fault.exception, "drop": Fault.drop}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = [_parse_fault(text) for text in args.fault]
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(_serve(args, faults))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators", description=__doc__)
    parser.add_argument("--devices", type=int, required=True, help="number of devices")
    parser.add_argument("--gateways", type=int, required=True, help="number of gateways (TCP listeners)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="first port; 0 picks free ports")
    parser.add_argument("--inventory", type=Path, required=True, help="write the device inventory JSON here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="layout and noise seed")
    parser.add_argument("--feeders", type=int, default=DEFAULT_FEEDERS, help="number of feeders")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="DEVICE_ID=KIND",
        help=f"inject a fault; KIND is one of {', '.join(FAULTS)} (repeatable)",
    )
    return parser


def _parse_fault(text: str) -> tuple[str, Fault]:
    device_id, separator, kind = text.partition("=")
    if not separator or not device_id or kind not in FAULTS:
        raise ValueError(f"--fault {text!r}: expected DEVICE_ID=KIND with KIND in {', '.join(FAULTS)}")
    return device_id, FAULTS[kind]()


async def _serve(args: argparse.Namespace, faults: list[tuple[str, Fault]]) -> None:
    fleet = Fleet.build(
        devices=args.devices,
        gateways=args.gateways,
        host=args.host,
        port=args.port,
        seed=args.seed,
        feeders=args.feeders,
    )
    for device_id, fault in faults:
        fleet.inject(device_id, fault)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        await fleet.start()
        fleet.write_inventory(args.inventory)
        ports = ",".join(str(port) for port in fleet.ports)
        print(f"listening ports={ports} devices={args.devices} inventory={args.inventory}", flush=True)
        await stop.wait()
    finally:
        await fleet.stop()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
