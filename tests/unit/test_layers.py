"""Arrows point down only: between the top packages, and between the layers
inside gridjobs. A module may import a lower layer, or its own unit (package
or module); anything else fails here, naming the file and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP = ("gridjobs", "actors", "adapters", "simulators")
# Which top packages each one may import (ARCHITECTURE.md: gridjobs → actors → adapters ← simulators).
ALLOWED_TOP = {
    "adapters": set(),
    "actors": {"adapters"},
    "simulators": {"adapters"},
    "gridjobs": {"actors", "adapters"},
}
# The layers inside gridjobs, lowest first; README "How the code is laid out" explains them.
GRIDJOBS_LAYERS = (
    ("errors", "states", "event_types", "aio"),                # words, the exception tree, asyncio helpers
    ("config", "records", "validation", "logs", "metrics"),    # settings, frozen records
    ("background",),                                           # owned background tasks
    ("store",),                                                # Postgres: all the SQL
    ("profiles", "scope", "device_keys", "firmware", "ledger", "access"),  # domain services
    ("webhooks",),                                             # endpoints, secrets (sealed by device_keys), signing
    ("run",),                                                  # a running operation and its ports
    ("curtailment",),                                          # the curtailment engine
    ("load_shed", "der", "rollout", "key_rotation"),           # the kinds
    ("kinds",),                                                # the registry of kinds
    ("admission",),                                            # lanes, queue bounds, the depth gate
    ("dispatch", "intake", "testing", "telemetry", "outbox"),  # running work; taking it in; the test seam;
                                                               # watchers; events relayed, delivered, streamed
    ("runtime", "bootstrap", "shutdown", "transport", "http_server"),  # one process's resources; its stop;
                                                               # TLS; one write per HTTP answer
    ("api",),                                                  # HTTP
    ("web",),                                                  # the control-room page, /docs, /problems
    ("serve", "key_admin", "token_admin", "shard_admin"),      # entry points that hold a database
    ("client", "progress", "profile_view"),                    # what people see
    ("demo", "cli_views"),                                    # tables and panels of the read verbs
    ("cli",),
    ("__main__",),
)
RANK = {unit: rank for rank, units in enumerate(GRIDJOBS_LAYERS) for unit in units}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _unit(parts: tuple[str, ...]) -> str:
    return parts[1] if len(parts) > 1 else parts[0]


def _gridjobs_unit(dotted: str) -> str | None:
    """The gridjobs unit a dotted import names, if it names one."""
    parts = dotted.split(".")
    if parts[0] != "gridjobs" or len(parts) < 2:
        return None
    name = parts[1]
    exists = (ROOT / "gridjobs" / name).is_dir() or (ROOT / "gridjobs" / f"{name}.py").exists()
    return name if exists else None


@pytest.mark.parametrize("package", TOP)
def test_top_packages_import_only_downwards(package):
    bad = [f"{path.relative_to(ROOT)}:{line}: {name}"
           for path in _modules(package) for line, name in _imports(path)
           if name.split(".")[0] in TOP and name.split(".")[0] != package
           and name.split(".")[0] not in ALLOWED_TOP[package]]
    assert not bad, "imports against gridjobs → actors → adapters ← simulators:\n" + "\n".join(bad)


def test_every_gridjobs_unit_has_a_layer():
    units = {_unit(p.relative_to(ROOT).with_suffix("").parts) for p in _modules("gridjobs")}
    assert units - {"__init__"} <= set(RANK), f"give these a layer: {sorted(units - set(RANK))}"


def test_gridjobs_layers_import_only_downwards():
    bad = []
    for path in _modules("gridjobs"):
        unit = _unit(path.relative_to(ROOT).with_suffix("").parts)
        if unit == "__init__":
            continue
        for line, name in _imports(path):
            target = _gridjobs_unit(name)
            if target is not None and target != unit and RANK[target] >= RANK[unit]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {unit} (layer {RANK[unit]}) imports "
                           f"{name} (layer {RANK[target]})")
    assert not bad, "upward or sideways imports inside gridjobs:\n" + "\n".join(sorted(set(bad)))


def test_the_check_catches_an_upward_import(tmp_path):
    """The rule above is not vacuous: a store module importing the API is caught."""
    fake = tmp_path / "gridjobs" / "store"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from gridjobs.api.app import create_app\n")
    (tmp_path / "gridjobs" / "api").mkdir()
    globals()["ROOT"], saved = tmp_path, ROOT
    try:
        with pytest.raises(AssertionError, match="store .layer 3. imports gridjobs.api.app"):
            test_gridjobs_layers_import_only_downwards()
    finally:
        globals()["ROOT"] = saved
