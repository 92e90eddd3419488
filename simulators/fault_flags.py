"""Faults written as CLI flags: ``DEVICE=KIND[:K=V,...]`` and ``KIND[:K=V,...]=FRACTION``.

A list parameter joins its items with ``+``: ``late_answer:roles=curtail_setpoint_pct+revert_timeout_s``.
"""

from __future__ import annotations

from typing import Any

from .faults import Fault, FaultKind

KINDS = ", ".join(FaultKind)
LIST_PARAMETERS = frozenset({"roles"})
LIST_SEPARATOR = "+"


def parse_fault(text: str) -> tuple[str, Fault]:
    device_id, separator, rest = text.partition("=")
    if not separator or not device_id or not rest:
        raise ValueError(f"--fault {text!r}: expected DEVICE_ID=KIND[:K=V,...] with KIND in {KINDS}")
    return device_id, _fault(rest, flag=f"--fault {text!r}")


def parse_fault_fraction(text: str) -> tuple[Fault, float]:
    rest, separator, number = text.rpartition("=")
    try:
        fraction = float(number)
    except ValueError:
        fraction = -1.0
    if not separator or not 0 < fraction <= 1:
        raise ValueError(f"--fault-fraction {text!r}: expected KIND[:K=V,...]=FRACTION with FRACTION in (0, 1]")
    return _fault(rest, flag=f"--fault-fraction {text!r}"), fraction


def _fault(text: str, *, flag: str) -> Fault:
    kind, _, arguments = text.partition(":")
    try:
        return Fault.parse(kind, _parameters(arguments, flag=flag))
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}; expected DEVICE_ID=KIND[:K=V,...] with KIND in {KINDS}") from exc


def _parameters(text: str, *, flag: str) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, separator, value = item.partition("=")
        if not separator:
            raise ValueError(f"{flag}: parameter {item!r} is not K=V")
        parameters[key] = value.split(LIST_SEPARATOR) if key in LIST_PARAMETERS else _number(value)
    return parameters


BOOLEANS = {"true": True, "false": False}


def _number(text: str) -> bool | int | float | str:
    if text in BOOLEANS:
        return BOOLEANS[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
