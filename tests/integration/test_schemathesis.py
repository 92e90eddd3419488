"""Requests generated from /openapi.json against the real app, a real uvicorn and a real Postgres.

Schemathesis generates, for every operation of the document, requests that
fit the schema and requests that do not (and, for the ids, bodies and queries
the seeded fleet makes valid, some that get past 404 and 422). Every answer
must: not be a 5xx, be problem+json if it is an error, and conform to the
document (status, content type, headers, body schema). The run is bounded and
derandomized, so CI sees the same requests every time.

Intake only: no dispatcher, so submitted operations stay queued and no device
is ever touched. No webhook is sent either (webhook_concurrency 0): generated
endpoint URLs name hosts that are not ours. Event streams are left out: they
never end by themselves (tests/integration/test_events_e2e.py covers them).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance,
    response_schema_conformance, status_code_conformance,
)

from gridjobs.device_keys import ensure_master_key
from tests.support import live_service

EXAMPLES_PER_STRATEGY = 36  # × positive and negative × 14 operations with inputs ≈ 1,000 requests
FIRMWARE = b"\x5a" * 300
DEVICES = [
    {"id": "d1", "profile": "controllable_load", "host": "127.0.0.1", "port": 5020, "unit_id": 1,
     "feeder": "F1", "shed_priority": 1, "protected": False, "rated_kw": 10.0},
    {"id": "r1", "profile": "rtu", "host": "127.0.0.1", "port": 5021, "unit_id": 2,
     "feeder": "F2", "shed_priority": 2, "protected": False, "rated_kw": 5.0},
]


def is_problem(ctx, response, case) -> None:
    """Every error answer is problem+json (RFC 9457) with its own status."""
    if response.status_code < 400 or case.operation.path == "/readyz":
        return None
    media = response.headers.get("content-type", [""])
    assert media[0].startswith("application/problem+json"), f"{response.status_code} is {media}"
    body = response.json()
    assert body["status"] == response.status_code and body["type"] and body["title"] and body["detail"]
    return None


# An explicit configuration, so no schemathesis.toml lying around changes the run. A request
# the document calls invalid must be refused with one of these (413: over the body limit).
def config(token: str) -> schemathesis.Config:
    """The run's configuration; the bearer token is given as the document's security scheme, so
    negative cases never "break" the Authorization header the session sends anyway."""
    return schemathesis.Config.from_dict({
        "auth": {"openapi": {"bearer": {"bearer": token}}},
        "checks": {"negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "409", "413", "415", "422"]}}})
CHECKS = [not_a_server_error, is_problem, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@dataclass
class Seeds:
    firmware_id: str
    operation_id: str

    def fixed(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per operation, the parts a seeded request fixes (the rest is generated)."""
        device = {k: v for k, v in DEVICES[0].items() if k != "id"}
        shed = {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"feeders": ["F1"]}, "hold_s": 0}}
        op = {"path_parameters": {"id": self.operation_id}}
        return {
            ("POST", "/v1/operations"): {"body": shed},
            ("GET", "/v1/operations/{id}"): op,
            ("GET", "/v1/operations/{id}/devices"): op,
            ("POST", "/v1/operations/{id}/cancel"): op,
            ("POST", "/v1/operations/{id}/resume"): op,
            ("PUT", "/v1/devices/{id}"): {"path_parameters": {"id": "d1"}, "body": device},
            ("GET", "/v1/devices/{id}"): {"path_parameters": {"id": "r1"}},
            ("GET", "/v1/firmware/{id}"): {"path_parameters": {"id": self.firmware_id}},
            ("POST", "/v1/firmware"): {"query": {"version": "4.2.2", "profile": "rtu"}},
        }


@dataclass
class Run:
    base_url: str
    seeds: Seeds
    headers: dict[str, str]
    answers: Counter = field(default_factory=Counter)  # (operation, status) → count
    failures: list[str] = field(default_factory=list)

    def operation(self, operation) -> None:
        fixed = self.seeds.fixed().get((operation.method.upper(), operation.path))
        strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
        if any(operation.iter_parameters()) or operation.body:  # else there is nothing to break
            strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        if fixed:
            strategies.append(operation.as_strategy(**fixed))
        session = requests.Session()
        session.headers.update(self.headers)  # an admin token: every route is open to it
        for strategy in strategies:
            self._explore(strategy, session, operation.label)

    def _explore(self, strategy, session: requests.Session, label: str) -> None:
        @settings(max_examples=EXAMPLES_PER_STRATEGY, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(case=strategy)
        def explore(case) -> None:
            response = case.call(base_url=self.base_url, session=session)
            self.answers[label, response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

        try:
            explore()
        except (Exception, BaseExceptionGroup) as exc:  # failed checks: report them all at the end
            self.failures.append(f"{label}: {exc}")


async def _seed(base_url: str, headers: dict[str, str]) -> Seeds:
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        assert (await client.post("/v1/devices", json=DEVICES)).status_code == 200
        stored = await client.post("/v1/firmware", params={"version": "4.2.1", "profile": "rtu"},
                                   content=FIRMWARE, headers={"content-type": "application/octet-stream"})
        assert stored.status_code == 201, stored.text
        body = {"kind": "load_shed", "params": {"target_kw": 5, "scope": {"device_ids": ["d1"]}, "hold_s": 0}}
        submitted = await client.post("/v1/operations", json=body)
        assert submitted.status_code == 202, submitted.text
        document = (await client.get("/openapi.json")).json()
    return Seeds(stored.json()["id"], submitted.json()["id"]), document


STREAMS = {"/v1/events", "/v1/operations/{id}/events"}


def _fuzz(document: dict, run: Run) -> Run:
    token = run.headers["Authorization"].split()[1]
    schema = schemathesis.openapi.from_dict(document, config=config(token))
    for result in schema.get_all_operations():
        if result.ok().path not in STREAMS:
            run.operation(result.ok())
    return run


async def test_generated_requests_get_no_5xx_and_conform_to_the_document(db_url, tmp_path):
    key = ensure_master_key(tmp_path / "master.key").path
    async with live_service(db_url, master_key_file=key, webhook_concurrency=0) as (base_url, headers):
        seeds, document = await _seed(base_url, headers)
        run = await asyncio.to_thread(_fuzz, document, Run(base_url, seeds, headers))
    print(f"schemathesis {schemathesis.SCHEMATHESIS_VERSION}: {sum(run.answers.values())} requests")
    for (label, status), count in sorted(run.answers.items()):
        print(f"  {label:40s} {status} ×{count}")
    assert not run.failures, "\n\n".join(run.failures)
    assert sum(run.answers.values()) >= 500
