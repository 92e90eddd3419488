"""The states are declared once, in gridjobs.states: the SQL CHECKs and the API schema agree."""

from __future__ import annotations

import re

from gridjobs.api.openapi import build_openapi
from gridjobs.states import ACTIVE, TERMINAL, OutcomeState, Status
from gridjobs.store.queries import SCHEMA_FILE


def check_values(table: str, column: str) -> set[str]:
    schema = SCHEMA_FILE.read_text()
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", schema, re.S)[1]
    check = re.search(rf"\b{column}\s+text NOT NULL CHECK \({column} IN\s*\((.*?)\)\)", body, re.S)[1]
    return set(re.findall(r"'(\w+)'", check))


def test_operation_statuses_match_the_sql_check():
    assert check_values("operations", "status") == {s.value for s in Status}


def test_outcome_states_match_the_sql_check():
    assert check_values("device_outcomes", "state") == {s.value for s in OutcomeState}


def test_the_api_schema_lists_the_same_states():
    schemas = build_openapi()["components"]["schemas"]
    assert set(schemas["Status"]["enum"]) == {s.value for s in Status}
    assert set(schemas["OutcomeState"]["enum"]) == {s.value for s in OutcomeState}


def test_every_status_is_terminal_or_active():
    assert TERMINAL | ACTIVE == set(Status) and not TERMINAL & ACTIVE
