"""py-spy on running processes picked by their command line, while a benchmark loads them.

    python bench/profile_procs.py --root PID --match 'ray::DeviceShard' --match 'gridjobs serve' \
        --seconds 20 [--delay 5] [--out DIR]

Records every matching descendant of `--root` (the benchmark's own process:
other people's servers on the machine are left alone) at once (bench/profiles.py) and prints each
one's top frames. For the shed and rollout benchmarks, whose work runs in Ray
actors that gridjobs does not start as its own children: run it beside
`bench/shed.py` and give `--delay` so the recording covers a round.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psutil

from profiles import Profiler


def matching(root: int, patterns: list[str]) -> list[psutil.Process]:
    found = []
    for proc in psutil.Process(root).children(recursive=True):
        try:
            proc.info = {"cmdline": proc.cmdline()}
        except psutil.Error:
            continue
        if any(p in " ".join(proc.info["cmdline"]) for p in patterns):
            found.append(proc)
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/profile_procs.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=int, required=True, help="only this process's descendants")
    p.add_argument("--match", action="append", required=True, help="substring of the command line")
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--delay", type=float, default=0.0, help="wait this long first")
    p.add_argument("--out", type=Path, help="keep the raw py-spy files here")
    args = p.parse_args(argv)
    time.sleep(args.delay)
    procs = matching(args.root, args.match)
    if not procs:
        print(f"no process matches {args.match}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="gridjobs-profile-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        profilers = [(proc, Profiler(proc.pid, args.seconds, out / f"{proc.pid}.spy")) for proc in procs]
        with ExitStack() as stack:
            for _, profiler in profilers:
                stack.enter_context(profiler)
        for proc, profiler in profilers:
            name = " ".join(proc.info["cmdline"] or [])[:60]
            print(profiler.report(f"pid {proc.pid} ({name})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
