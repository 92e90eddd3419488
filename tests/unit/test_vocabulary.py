"""Words shared between layers are declared once, in their enum's module, and used through it.

The scan reads every module's syntax tree (``ast``): a string constant equal
to a role name, an outcome code or a step name, outside the module that
declares that enum, is a second declaration of the word. So is a name of a
firmware state bound to a bare int (``PENDING_CONFIRM = 2``), or a ``*STATE*``
name bound to bare ints (``IDLE_STATES = {0, 3}``).
"""

from __future__ import annotations

import ast
import enum
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.shard import STEPS
from actors.step_names import Step
from actors.tasks import DeviceResult
from adapters import FaultCode, FirmwareState, KeySlots, PendingState, Role

ROOT = Path(__file__).resolve().parents[2]
VOCABULARIES: tuple[type[enum.Enum], ...] = (Role, FaultCode, Step)
STATE_NAMES = frozenset(state.name for state in FirmwareState)
STATE_VALUES = frozenset(int(state) for state in FirmwareState)
# The same word in another vocabulary: (file, word) -> what it is there.
HOMONYMS = {
    ("simulators/fleet_document.py", "rated_kw"): "a fleet-file group key: the simulated device's rating",
    ("simulators/fleet_document.py", "firmware_version"): "a fleet-file group key: the version a group ships with",
    ("simulators/fleet.py", "rated_kw"): "a field of the inventory record the simulator writes",
    ("gridjobs/demo.py", "rated_kw"): "a field of the inventory record the demo reads",
    ("gridjobs/demo.py", "restore"): "a load-shed parameter (the restore stages)",
    ("gridjobs/demo.py", "revert_timeout_s"): "a load-shed parameter (the dead-man timer)",
    ("gridjobs/curtailment/dry_run.py", "rated_kw"): "the dry run's basis: the device's rated kW",
    ("gridjobs/curtailment/engine.py", "restore"): "the phase of a curtailment in its checkpoint",
    ("gridjobs/web/snapshot.py", "restore"): "a load-shed parameter (the restore stages)",
}
CLEAN_PACKAGES = ["adapters", "actors", "simulators", "gridjobs"]


def _module_of(vocabulary: type[enum.Enum]) -> str:
    return Path(inspect.getsourcefile(vocabulary)).relative_to(ROOT).as_posix()


WORDS: dict[str, list[type[enum.Enum]]] = {}
for _vocabulary in VOCABULARIES:
    for _member in _vocabulary:
        WORDS.setdefault(_member.value, []).append(_vocabulary)


def offences(source: str, *, path: str) -> Iterator[str]:
    """Every second declaration of a shared word in ``source`` (the text of the module at ``path``)."""
    tree = ast.parse(source, filename=path)
    own = {member.value for vocabulary in VOCABULARIES if _module_of(vocabulary) == path for member in vocabulary}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in WORDS:
            if node.value not in own and (path, node.value) not in HOMONYMS:
                names = " and ".join(f"{v.__name__}.{v(node.value).name}" for v in WORDS[node.value])
                yield f"{path}:{node.lineno}: {node.value!r} is {names}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and path != _module_of(FirmwareState):
            yield from _state_offences(node, path)


def _state_offences(node: ast.Assign | ast.AnnAssign, path: str) -> Iterator[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        for name, value in _bindings(target, node.value):
            if name in STATE_NAMES and _ints(value) is not None:
                yield f"{path}:{node.lineno}: {name} = a bare int; use FirmwareState.{name}"
            elif "STATE" in name and (numbers := _ints(value)) and numbers <= STATE_VALUES:
                yield f"{path}:{node.lineno}: {name} = bare ints {sorted(numbers)}; use FirmwareState members"


def _bindings(target: ast.expr, value: ast.expr | None) -> Iterator[tuple[str, ast.expr | None]]:
    if isinstance(target, ast.Name):
        yield target.id, value
    elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        for element, part in zip(target.elts, value.elts):
            yield from _bindings(element, part)


def _ints(value: ast.expr | None) -> set[int] | None:
    """The ints of an int constant, or of a tuple/list/set (or ``frozenset({...})``) of int constants."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and len(value.args) == 1:
        value = value.args[0] if value.func.id in ("frozenset", "set", "tuple") else None
    elements = value.elts if isinstance(value, (ast.Tuple, ast.List, ast.Set)) else [value]
    if all(isinstance(e, ast.Constant) and type(e.value) is int for e in elements):
        return {e.value for e in elements}
    return None


def package_offences(package: str) -> list[str]:
    found = []
    for file in sorted((ROOT / package).rglob("*.py")):
        path = file.relative_to(ROOT).as_posix()
        found.extend(offences(file.read_text(encoding="utf-8"), path=path))
    return found


@pytest.mark.parametrize("package", CLEAN_PACKAGES)
def test_shared_words_appear_only_through_their_enum(package):
    found = package_offences(package)
    assert not found, f"{len(found)} shared word(s) written as literals:\n" + "\n".join(found)


def test_the_scan_catches_each_kind_of_second_declaration():
    source = '\n'.join([
        'STATE = "fw_state"',
        'UNREACHABLE = frozenset({"device_timeout", "connection_failed"})',
        'TABLE = {"fw_verify": None}',
        'PENDING_CONFIRM, CONFIRMED, ROLLED_BACK = 2, 3, 4',
        'IDLE_STATES = {0, 3}',
    ])
    found = list(offences(source, path="actors/firmware_steps.py"))
    assert sorted(line.split(": ", 1)[0] for line in found) == [
        "actors/firmware_steps.py:1", "actors/firmware_steps.py:2", "actors/firmware_steps.py:2",
        "actors/firmware_steps.py:3", "actors/firmware_steps.py:4", "actors/firmware_steps.py:4",
        "actors/firmware_steps.py:4", "actors/firmware_steps.py:5",
    ], found
    assert not list(offences('STATE = "fw_state"', path=_module_of(Role))), "the enum's own module declares it"


def test_every_homonym_still_occurs():
    for (path, word), why in HOMONYMS.items():
        constants = {node.value for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8")))
                     if isinstance(node, ast.Constant)}
        assert word in constants, f"{path} no longer uses {word!r} ({why}); drop the allowance"


def test_every_step_name_has_a_program():
    assert set(STEPS) == set(Step)


def test_outcome_codes_are_fault_codes():
    assert DeviceResult.fault("d", "device_held", "x").code is FaultCode.DEVICE_HELD
    assert DeviceResult("d", ok=False, code="crc_mismatch").code is FaultCode.CRC_MISMATCH
    with pytest.raises(ValueError, match="not_a_code"):
        DeviceResult.fault("d", "not_a_code", "x")


@pytest.mark.parametrize("slots", [
    KeySlots(active=1, pending=None, previous=None, pending_state=PendingState.EMPTY),
    KeySlots(active=3, pending=4, previous=2, pending_state=PendingState.VERIFIED),
])
def test_key_slots_cross_as_plain_ints_and_come_back(slots):
    values = slots.as_values()
    assert all(type(value) is int for value in values.values())
    assert KeySlots.from_values(values) == slots
