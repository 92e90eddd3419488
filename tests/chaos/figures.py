"""A campaign's figures, and the table `scripts/chaos` prints.

`kills` and `operations` count what was done; every other figure counts a broken
invariant and must be 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

from tests.chaos.truth import Truth

COUNTED = ("kills", "operations")
COLUMNS = ("kills", "operations", "lost", "duplicated", "left_curtailed", "locked_out", "failed", "other")
HEADERS = {"left_curtailed": "left curtailed", "locked_out": "locked out"}


@dataclass
class Figures:
    kind: str
    kills: int = 0
    operations: int = 0
    lost: int = 0  # accepted (202) operations missing or not terminal at the end
    duplicated: int = 0  # devices with an effect repeated after it was recorded
    left_curtailed: int = 0  # devices not read back normal from the device at the end
    locked_out: int = 0  # devices refusing the key the store says is active
    failed: int = 0  # accepted operations that ended other than succeeded
    other: int = 0  # other breaches: unreported curtailment, refused commands, image not running
    runs: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add_truth(self, truth: Truth, *, run: str) -> None:
        self.duplicated += len(truth.duplicated)
        self.left_curtailed += len(truth.left_curtailed)
        self.locked_out += len(truth.locked_out)
        self.other += len(truth.other)
        self.notes += [f"{run}: {note}" for note in truth.notes]

    def broken(self) -> dict[str, int]:
        """The invariant figures that are not 0."""
        return {name: getattr(self, name) for name in COLUMNS if name not in COUNTED and getattr(self, name)}


def table(rows: Sequence[Figures]) -> str:
    headers = ["kind", *(HEADERS.get(c, c) for c in COLUMNS), "runs", "seconds"]
    body = [[r.kind, *(str(getattr(r, c)) for c in COLUMNS), str(r.runs), f"{r.seconds:.0f}"] for r in rows]
    if len(rows) > 1:
        total = Figures("total", **{f.name: sum(getattr(r, f.name) for r in rows)
                                    for f in fields(Figures) if f.name in (*COLUMNS, "runs", "seconds")})
        body.append([total.kind, *(str(getattr(total, c)) for c in COLUMNS), str(total.runs),
                     f"{total.seconds:.0f}"])
    widths = [max(len(line[i]) for line in [headers, *body]) for i in range(len(headers))]
    render = [" | ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
              for line in [headers, *body]]
    return "\n".join([render[0], "-+-".join("-" * w for w in widths), *render[1:]])
