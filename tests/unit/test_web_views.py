"""The page's pure parts: the operation's phase and kW, the feeder chart, the problem pages,
and the page routes' place in the authorization table."""

from __future__ import annotations

import inspect
import re
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

import gridjobs
from gridjobs import errors
from gridjobs.access.policy import PAGES, ROUTES, require_route
from gridjobs.access.roles import AccessRole, Principal
from gridjobs.errors import Forbidden
from gridjobs.records import Operation, Outcome, Progress
from gridjobs.states import OutcomeState, Status
from gridjobs.web import chart, routes
from gridjobs.web.problem_texts import PROBLEMS
from gridjobs.web.snapshot import kw, phase, snapshot

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def shed(status=Status.RUNNING, *, checkpoint=None, result=None, finished=None, hold_s=600.0,
         kind="load_shed", cancel=False) -> Operation:
    return Operation(id=uuid4(), kind=kind, status=status, priority=0,
                     params={"target_kw": 50.0, "hold_s": hold_s, "restore": {"stages": 3}},
                     result=result, error_code=None, error_detail=None, created_at=T0, started_at=T0,
                     finished_at=finished, checkpoint=checkpoint or {}, cancel_requested=cancel,
                     progress=Progress(3, 2, 1), feeders=("F1",))


def outcome(device: str, step: str, *, state=OutcomeState.SUCCEEDED, at=T0, **data) -> Outcome:
    return Outcome(device, state, step, seq=1, attempts=1, data=data, updated_at=at)


READINGS = {"a": {"measured_kw": 30.0}, "b": {"measured_kw": 20.0}, "c": {"measured_kw": 5.0}}


def test_the_phases_of_a_curtailment():
    now = T0.timestamp() + 100
    assert phase(shed(), [], now)["name"] == "survey"
    assert phase(shed(checkpoint={"readings": READINGS, "phase": "shed"}), [], now)["label"] == "curtail"
    hold = phase(shed(checkpoint={"readings": READINGS, "phase": "hold", "hold_until": now + 125}), [], now)
    assert hold == {"name": "hold", "label": "hold, 2:05 left", "until": now + 125, "left_s": 125}
    forever = phase(shed(checkpoint={"readings": READINGS, "phase": "hold", "hold_until": None}), [], now)
    assert forever["label"] == "hold (until cancelled)"
    restoring = [outcome("a", "restored", reduction_kw=30.0, restore_stage=1),
                 outcome("b", "curtailed", reduction_kw=20.0)]
    assert phase(shed(checkpoint={"readings": READINGS, "phase": "restore"}), restoring, now)["label"] == \
        "restore stage 1 of 2"      # 3 stages asked for, 2 devices shed
    cancelled = shed(checkpoint={"readings": READINGS, "phase": "hold", "hold_until": now + 9}, cancel=True)
    assert phase(cancelled, restoring, now)["name"] == "restore"
    assert phase(shed(Status.CANCELLED), [], now)["label"] == "cancelled"


def test_the_wave_of_a_rollout():
    op = shed(kind="firmware_rollout", checkpoint={"waves": [["a"], ["b", "c"], ["d"]], "wave": 1})
    assert phase(op, [], 0)["label"] == "wave 2 of 3"


def test_target_against_achieved():
    live = [outcome("a", "curtailed", reduction_kw=30.0), outcome("b", "curtail", state=OutcomeState.RUNNING),
            outcome("c", "restored", reduction_kw=5.0)]
    assert kw(shed(), live) == {"target": 50.0, "achieved": 30.0}
    assert kw(shed(result={"target_kw": 48.0, "achieved_kw": 35.0}), live) == {"target": 48.0, "achieved": 35.0}
    rows = snapshot(shed(), live, 0)["devices"]
    assert [r["id"] for r in rows] == ["a", "b", "c"] and rows[1]["state"] == "running"


def test_the_feeder_series_steps_down_at_the_hold_and_back_at_each_restore():
    hold_until = T0.timestamp() + 610
    op = shed(Status.SUCCEEDED, checkpoint={"readings": READINGS, "hold_until": hold_until},
              finished=T0 + timedelta(seconds=700))
    done = [outcome("a", "restored", at=T0 + timedelta(seconds=650), reduction_kw=30.0, restored=True),
            outcome("b", "restored", at=T0 + timedelta(seconds=660), reduction_kw=20.0, restored=True),
            outcome("c", "restored", at=T0 + timedelta(seconds=655), reduction_kw=5.0, restored=True)]
    series = chart.feeder_series(op, done, {"a", "b"}, now=0)      # c is on another feeder
    assert [(p.t - T0.timestamp(), p.kw) for p in series] == [
        (0, 50.0), (10, 20.0), (10, 0.0), (650, 30.0), (660, 50.0), (700, 50.0)]
    drawn = chart.svg(series, title="F1 <kW>")
    assert drawn.startswith("<svg") and "&lt;kW&gt;" in drawn and "<script" not in drawn
    assert len(set(re.findall(r"V([\d.]+)", drawn))) == 4   # 50, 20, 0 and 30 kW


def test_every_problem_type_the_api_emits_has_a_page():
    slugs = {cls.type_slug for cls in _subclasses(errors.GridjobsError)}
    slugs |= {"http-404", "http-405", "http-413", "overloaded", "payload-too-large"}
    assert slugs - {"internal"} <= set(PROBLEMS), sorted(slugs - set(PROBLEMS))
    assert all(t.means and t.todo and 400 <= t.status < 600 for t in PROBLEMS.values())


def _subclasses(root: type) -> set[type]:
    for module in ("gridjobs.api.firmware", "gridjobs.firmware.artifacts", "gridjobs.device_keys.errors"):
        __import__(module)
    found, todo = set(), [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("gridjobs") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return {c for c in found if inspect.getattr_static(c, "type_slug", None) and c.__module__ != "gridjobs.client"}


def _template(route) -> tuple[str, list[str]]:
    return route.path, sorted(getattr(route, "methods", None) or {"GET"})


def test_every_page_route_has_a_rule_and_no_api_rule_changed():
    for route in routes():
        path, methods = _template(route)
        for method in methods:
            if method != "HEAD":
                assert (method, path) in PAGES, f"{method} {path} has no rule"
    assert not set(PAGES) & set(ROUTES)


@pytest.mark.parametrize("role", list(AccessRole))
def test_page_roles_match_the_api_they_show(role):
    who = Principal("p", "token", frozenset({role}))
    pairs = [(("GET", "/"), ("GET", "/v1/operations")), (("GET", "/devices"), ("GET", "/v1/devices")),
             (("GET", "/operations/{id}/live"), ("GET", "/v1/operations/{id}/events")),
             (("GET", "/docs"), ("GET", "/openapi.json"))]
    for page, api in pairs:
        assert _allowed(who, *page) == _allowed(who, *api), (role, page)


def _allowed(who: Principal, method: str, path: str) -> bool:
    try:
        require_route(who, method, path)
    except Forbidden:
        return False
    return True


def test_the_package_ships_its_templates_and_assets():
    from pathlib import Path
    web = Path(gridjobs.__file__).parent / "web"
    assert {"page.css", "live.js", "list.js", "docs.js"} <= {p.name for p in (web / "static").iterdir()}
    from gridjobs.web.docs import SWAGGER_UI_DIR
    assert (SWAGGER_UI_DIR / "swagger-ui-bundle.js").is_file()
