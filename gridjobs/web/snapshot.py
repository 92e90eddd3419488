"""What the operation view shows, as plain data: phase, kW, progress, devices (pure).

The page renders it once on load, and the live stream (live.py) sends it again
whenever it changes; the page's script only copies it into the DOM.
"""

from __future__ import annotations

from typing import Any, Sequence

from actors.step_names import Step
from adapters import Role
from gridjobs.records import Operation, Outcome

CURTAILMENTS = frozenset({"load_shed", "der_curtailment"})
ROLLOUT = "firmware_rollout"
CURTAILED = "curtailed"
MEASURED = Role.MEASURED_KW.value
SURVEY, CURTAIL, RESTORE = Step.SURVEY.value, Step.CURTAIL.value, Step.RESTORE.value
MAX_DEVICES = 500          # rows the view and each snapshot carry; the API pages the rest


def phase(op: Operation, outcomes: Sequence[Outcome], now: float) -> dict[str, Any]:
    """The phase a person cares about: name, label and, for a hold, when it ends."""
    if op.terminal:
        return {"name": op.status.value, "label": op.status.value}
    if op.status.value in ("queued", "paused"):
        return {"name": op.status.value, "label": op.status.value}
    if op.kind in CURTAILMENTS:
        return _curtailment_phase(op, outcomes, now)
    if op.kind == ROLLOUT and "waves" in op.checkpoint:
        waves = len(op.checkpoint["waves"])
        current = min(int(op.checkpoint.get("wave", 0)) + 1, waves)
        return {"name": "wave", "label": f"wave {current} of {waves}", "k": current, "n": waves}
    return {"name": op.status.value, "label": op.status.value}


def _curtailment_phase(op: Operation, outcomes: Sequence[Outcome], now: float) -> dict[str, Any]:
    checkpoint = op.checkpoint
    if "readings" not in checkpoint:
        return {"name": SURVEY, "label": SURVEY}
    if checkpoint.get("phase") == "shed":
        return {"name": CURTAIL, "label": CURTAIL}
    if checkpoint.get("phase") == "hold" and not op.cancel_requested:
        until = checkpoint.get("hold_until")
        if until is None:
            return {"name": "hold", "label": "hold (until cancelled)", "until": None}
        left = max(0, round(float(until) - now))
        return {"name": "hold", "label": f"hold, {_duration(left)} left", "until": float(until),
                "left_s": left}   # the page counts down from left_s: the browser's clock may differ
    stages = int(op.params.get("restore", {}).get("stages", 1))   # the parameter, not the step
    shed = sum(1 for o in outcomes if "reduction_kw" in o.data) or 1
    n = max(1, min(stages, shed))
    k = max((int(o.data.get("restore_stage", 0)) for o in outcomes), default=0)
    return {"name": RESTORE, "label": f"{RESTORE} stage {max(k, 1)} of {n}", "k": max(k, 1), "n": n}


def kw(op: Operation, outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """Target against achieved kW; the result's figures once it has them."""
    result = op.result or {}
    if "achieved_kw" in result:
        return {"target": result.get("target_kw"), "achieved": result["achieved_kw"]}
    if op.kind not in CURTAILMENTS:
        return {"target": None, "achieved": None}
    achieved = sum(float(o.data.get("reduction_kw", 0.0)) for o in outcomes
                   if o.step == CURTAILED and o.state.value == "succeeded")
    target = op.params.get("target_kw") or op.params.get("reduce_kw")
    return {"target": target, "achieved": round(achieved, 3)}


def device_row(o: Outcome) -> dict[str, Any]:
    reading = o.data.get(MEASURED, o.data.get("survey_kw"))
    return {"id": o.device_id, "state": o.state.value, "step": o.step, "code": o.code,
            "attempts": o.attempts, "reading_kw": None if reading is None else round(float(reading), 2)}


def snapshot(op: Operation, outcomes: Sequence[Outcome], now: float) -> dict[str, Any]:
    p = op.progress
    return {"id": str(op.id), "status": op.status.value, "terminal": op.terminal,
            "phase": phase(op, outcomes, now), "kw": kw(op, outcomes),
            "progress": {"total": p.total, "succeeded": p.succeeded, "failed": p.failed,
                         "pending": p.pending},
            "devices": [device_row(o) for o in outcomes[:MAX_DEVICES]]}


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
