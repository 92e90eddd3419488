"""`python -m tests.chaos --kills N --seed S [--kinds k1,k2]`: a long campaign, as a table.

Uses the PostgreSQL of GRIDJOBS_TEST_DATABASE_URL (creating and dropping a database per
run), or an embedded one when it is unset. Exits 1 if an invariant broke.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.chaos.campaign import Plan, run_campaign
from tests.chaos.figures import Figures, table
from tests.chaos.kinds import KINDS
from tests.chaos.postgres import private_postgres


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per kind (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--max-kills-per-run", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the run directories (server logs)")
    args = parser.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if unknown := [k for k in args.kinds if k not in KINDS]:
        parser.error(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
    if args.kills < 1 or args.max_kills_per_run < 1:
        parser.error("--kills and --max-kills-per-run must be >= 1")
    return args


@contextmanager
def admin_url() -> Iterator[str]:
    if url := os.environ.get("GRIDJOBS_TEST_DATABASE_URL"):
        yield url
        return
    with private_postgres() as server:
        yield server.admin_url


async def campaign(args: argparse.Namespace, admin: str, workdir: Path) -> list[Figures]:
    plan = Plan(kills=args.kills, seed=args.seed, kills_per_run=(1, args.max_kills_per_run))
    rows = []
    for name in args.kinds:
        rows.append(await run_campaign(KINDS[name], plan, admin_url=admin, workdir=workdir,
                                       say=lambda line: print(line, file=sys.stderr, flush=True)))
        print(table(rows[-1:]), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    workdir = Path(tempfile.mkdtemp(prefix="gj-chaos-"))
    with admin_url() as admin:
        rows = asyncio.run(campaign(args, admin, workdir))
    print(f"chaos campaign: seed {args.seed}, {args.kills} kill(s) per kind; run directories in {workdir}")
    print(table(rows))
    broken = [f"{r.kind}: {r.broken()}" for r in rows if r.broken()]
    for row in rows:
        for note in row.notes:
            print(f"  {row.kind}: {note}")
    if not args.keep and not broken:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
