"""/openapi.json is a valid OpenAPI 3.1 document that describes everything a client can send."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from gridjobs.api.app import ROUTES
from gridjobs.api.openapi import build_openapi
from gridjobs.kinds import KINDS

DOC = build_openapi()
OPERATIONS = [(path, method, op) for path, item in DOC["paths"].items() for method, op in item.items()]


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


def test_the_document_is_valid_openapi_3_1():
    validate(DOC)  # raises OpenAPIValidationError, naming the offending part


def test_validation_catches_a_broken_document():
    """The check above is not vacuous."""
    broken = {**DOC, "paths": {"/v1/x/{id}": {"get": {"responses": {"200": {"description": "x"}},
                                                      "parameters": [{"name": "id", "in": "path"}]}}}}
    with pytest.raises(Exception, match="required|schema|content"):
        validate(broken)


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_path_parameter_is_declared(path, method, op):
    templated = set(re.findall(r"{(\w+)}", path))
    declared = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
    assert declared == templated


def test_every_query_filter_is_declared():
    def names(path: str, method: str = "get") -> set[str]:
        return {p["name"] for p in DOC["paths"][path][method].get("parameters", ()) if p["in"] == "query"}
    assert names("/v1/operations") == {"kind", "status", "limit", "cursor"}
    assert names("/v1/operations", "post") == {"dry_run"}
    assert names("/v1/operations/{id}/devices") == {"limit", "cursor"}
    assert names("/v1/devices") == {"feeder", "profile", "limit", "cursor"}
    assert names("/v1/firmware") == {"profile", "limit", "cursor"}
    assert names("/v1/firmware", "post") == {"version", "profile"}
    assert names("/v1/audit") == {"device_id", "operation_id", "limit", "cursor"}


def test_submission_headers_and_device_body_are_declared():
    post = DOC["paths"]["/v1/operations"]["post"]
    headers = {p["name"]: p["schema"] for p in post["parameters"] if p["in"] == "header"}
    assert set(headers) == {"Idempotency-Key", "X-Request-ID"}
    assert headers["Idempotency-Key"]["maxLength"] == 255
    put = DOC["paths"]["/v1/devices/{id}"]["put"]["requestBody"]["content"]["application/json"]
    assert put["schema"] == {"$ref": _ref("DeviceUpdate")}


def test_params_are_one_of_by_kind():
    submission = DOC["components"]["schemas"]["OperationSubmission"]
    assert submission["discriminator"]["propertyName"] == "kind"
    assert set(submission["discriminator"]["mapping"]) == set(KINDS)
    schemas = DOC["components"]["schemas"]
    for name, kind in KINDS.items():
        variant = schemas[submission["discriminator"]["mapping"][name].rsplit("/", 1)[1]]
        assert variant["properties"]["kind"]["const"] == name
        assert variant["properties"]["params"] == {"$ref": _ref(kind.params_model.__name__)}


def test_every_response_and_error_has_a_schema():
    for path, method, op in OPERATIONS:
        for status, response in op["responses"].items():
            assert status == "204" or response.get("content"), f"{method} {path} {status} has no content"
            if status.startswith(("4", "5")) and path != "/readyz":
                assert list(response["content"]) == ["application/problem+json"]
            if status == "503" and path != "/readyz":
                assert response["headers"]["Retry-After"]["required"] is True


def test_strings_refuse_control_characters_and_numbers_are_strict():
    device = DOC["components"]["schemas"]["DeviceIn"]["properties"]
    assert "\\x00" in device["feeder"]["pattern"] and "\\x00" in device["host"]["pattern"]
    assert device["port"]["type"] == "integer" and device["protected"]["type"] == "boolean"


def test_routes_and_document_agree_on_paths():
    assert {r.path for r in ROUTES} == set(DOC["paths"])
