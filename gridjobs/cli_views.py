"""What the read verbs show a person: rich tables and panels (stdout).

`--json` bypasses all of this and prints the API's own JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gridjobs.progress import phase_text

STATUS_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "cancelling": "yellow",
                "running": "cyan", "paused": "magenta", "queued": "dim"}
STATE_STYLE = {"succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan",
               "pending": "dim"}


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _styled(value: str | None, styles: dict[str, str]) -> Text:
    return Text(value or "-", style=styles.get(value or "", ""))


def _scope(op: dict) -> str:
    scope = (op.get("params") or {}).get("scope") or {}
    if scope.get("feeders"):
        return "feeders " + ",".join(scope["feeders"])
    ids = scope.get("device_ids") or []
    return f"{len(ids)} device(s)" if ids else ",".join(op.get("feeders") or []) or "-"


def operations_table(ops: Iterable[dict]) -> Table:
    table = Table(title="operations, newest first", title_justify="left", header_style="bold")
    for column in ("id", "kind", "status", "devices done", "feeders", "created", "by"):
        table.add_column(column, no_wrap=column != "feeders", overflow="fold")
    for op in ops:
        p = op["progress"]
        table.add_row(op["id"], op["kind"], _styled(op["status"], STATUS_STYLE),
                      f"{p['succeeded'] + p['failed']}/{p['total']}"
                      + (f" ({p['failed']} failed)" if p["failed"] else ""),
                      ",".join(op.get("feeders") or []) or "-", _when(op.get("created_at")), op.get("submitted_by") or "-")
    return table


def _kw(value: Any) -> str:
    return f"{value:.1f} kW" if isinstance(value, (int, float)) else "-"


def _targets(op: dict) -> list[tuple[str, str]]:
    """Target and achieved kW, as each curtailment kind names them."""
    params, result = op.get("params") or {}, op.get("result") or {}
    rows = []
    for name in ("target_kw", "limit_kw", "reduce_kw"):
        if params.get(name) is not None:
            rows.append((name.replace("_kw", "").replace("_", " "), _kw(params[name])))
    for name, value in result.items():
        if name.endswith("_kw") and params.get(name) is None:
            rows.append((name[:-3].replace("_", " "), _kw(value)))
    return rows


def operation_panel(op: dict) -> Panel:
    p = op["progress"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    phase = phase_text(op)
    rows: list[tuple[str, Any]] = [
        ("kind", op["kind"]), ("status", _styled(op["status"], STATUS_STYLE)),
        *([("phase", phase)] if phase else []),
        ("scope", _scope(op)), ("priority", str(op.get("priority", 0))),
        *_targets(op),
        ("devices", f"{p['total']} total, {p['succeeded']} succeeded, {p['failed']} failed, "
                    f"{p['pending']} pending"),
        ("created", _when(op.get("created_at"))), ("started", _when(op.get("started_at"))),
        ("finished", _when(op.get("finished_at"))),
        ("submitted by", op.get("submitted_by") or "-"),
    ]
    if op.get("cancelled_by"):
        rows.append(("cancelled by", op["cancelled_by"]))
    if op.get("resumed_by"):
        rows.append(("resumed by", op["resumed_by"]))
    if op.get("error"):
        rows.append(("error", Text(f"{op['error']['code']}: {op['error']['detail']}", style="red")))
    for name, value in (op.get("result") or {}).items():
        if not name.endswith("_kw"):
            rows.append((name.replace("_", " "), str(value)))
    for name, value in rows:
        grid.add_row(name, value)
    return Panel(grid, title=f"operation {op['id']}", title_align="left", expand=False)


def devices_table(outcomes: list[dict]) -> Table:
    table = Table(title=f"{len(outcomes)} device(s)", title_justify="left", header_style="bold")
    for column in ("device", "state", "step", "code", "attempts", "updated", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for o in outcomes:
        table.add_row(o["device_id"], _styled(o["state"], STATE_STYLE), o["step"], o["code"] or "-",
                      str(o["attempts"]), _when(o.get("updated_at")), o.get("detail") or "")
    return table


def status_view(op: dict, outcomes: list[dict] | None) -> Group:
    parts: list[Any] = [operation_panel(op)]
    if outcomes is not None:
        parts.append(devices_table(outcomes))
    return Group(*parts)


def settings_table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(title="effective settings", title_justify="left", header_style="bold")
    for column in ("setting", "value", "from"):
        table.add_column(column, overflow="fold")
    for name, value, source in rows:
        table.add_row(name, value, Text(source, style="dim" if source == "default" else "cyan"))
    return table


def out() -> Console:
    """stdout, wide enough for a table even when piped."""
    return Console(soft_wrap=False)
