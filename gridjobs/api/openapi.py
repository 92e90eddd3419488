"""/openapi.json, generated from the same pydantic models that validate requests.

Bodies, query strings, path ids and headers all come from the models and
types the endpoints validate with (schemas.py, queries.py, intake.py, the
kinds' params); this module only says which goes where.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gridjobs.access import policy
from gridjobs.api import audit, devices, openapi_events, queries, schemas, tokens
from gridjobs.api.openapi_objects import (
    REF, SECONDS, URI, header, json_response, key_header, path_id, problems, query_parameters,
    ref, schema_of, submission_model,
)
from gridjobs.kinds import KINDS

# Query strings become parameters; they are not components of their own.
_QUERIES = (queries.OperationsQuery, queries.Page, queries.DevicesQuery, queries.FirmwareListQuery,
            queries.AuditQuery, queries.RequestAuditQuery, queries.SubmitQuery, schemas.FirmwareQuery,
            *openapi_events.QUERIES)
BEARER = "bearer"
_OPERATION_ID = path_id(UUID, "the operation's id")
_DEVICE_ID = path_id(schemas.DeviceId, "the device's id")
_LOCATED = {"Location": header(URI, required=True), "Retry_After": header(SECONDS, required=False)}


def _models() -> list[type[BaseModel]]:
    return [submission_model(), schemas.OperationOut, schemas.OperationPage, schemas.DryRunOut,
            schemas.DeviceIn, schemas.DeviceUpdate, schemas.DeviceOut, schemas.DevicePage,
            schemas.UpsertedOut, schemas.OutcomePage, schemas.FirmwareOut, schemas.FirmwarePage,
            schemas.Problem, schemas.HealthOut, schemas.ReadinessOut, audit.AuditOut, audit.AuditPage,
            audit.RequestAuditOut, audit.RequestAuditPage, tokens.TokenIn, tokens.TokenOut,
            tokens.CreatedTokenOut, tokens.TokenList, *openapi_events.MODELS,
            *[k.params_model for k in KINDS.values()], *_QUERIES]


def build_openapi() -> dict[str, Any]:
    _, found = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    defs = found["$defs"]
    paths = {**_operations(defs), **openapi_events.event_paths(defs), **_devices(defs), **_firmware(defs),
             **_access(defs), **openapi_events.webhook_paths(defs), **_service()}
    for model in _QUERIES:
        del defs[model.__name__]
    return {"openapi": "3.1.0", "info": {"title": "gridjobs", "version": "0.1.0"},
            "paths": _secured(paths), "security": [{BEARER: []}],
            "components": {"schemas": defs, "securitySchemes": {BEARER: {
                "type": "http", "scheme": "bearer",
                "description": "an API token (gjt_…, `gridjobs tokens create`) or a JWT of the "
                               "configured identity provider"}}}}


def _secured(paths: dict[str, Any]) -> dict[str, Any]:
    """Every protected route answers 401, 403 and 429; a public one needs no identity."""
    for path, item in paths.items():
        for method, operation in item.items():
            rule = policy.rule_for(method.upper(), path)
            if rule is None or rule.public:
                operation["security"] = []
            else:
                operation["responses"].update(problems(401, 403, 429))
    return paths


def _access(defs: dict[str, Any]) -> dict[str, Any]:
    return {
        "/v1/tokens": {
            "post": {"summary": "Create an API token; the token is in this answer only",
                     "requestBody": _body(ref(tokens.TokenIn)),
                     "responses": {"201": json_response(tokens.CreatedTokenOut, "created"),
                                   **problems(400, 409, 413, 422, 503)}},
            "get": {"summary": "List API tokens (names, roles, areas, expiry, last use; never a token)",
                    "responses": {"200": json_response(tokens.TokenList, "every token"),
                                  **problems(503)}},
        },
        "/v1/tokens/{name}": {"delete": {
            "summary": "Revoke a token: every API process refuses it from its next request",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": schema_of(tokens.TokenName)}],
            "responses": {"204": {"description": "revoked"}, **problems(404, 503)}}},
        "/v1/audit/requests": {"get": {
            "summary": "Every state-changing request, allowed or denied, newest first",
            "parameters": query_parameters(queries.RequestAuditQuery, defs),
            "responses": {"200": json_response(audit.RequestAuditPage, "a page"),
                          **problems(400, 422, 503)}}},
    }


def _body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"required": True, "content": {media_type: {"schema": schema}}}


def _operations(defs: dict[str, Any]) -> dict[str, Any]:
    submitted = json_response(schemas.OperationOut, "accepted (or replayed)", **_LOCATED,
                              Operation_Location=header(URI, required=True),
                              Idempotent_Replayed=header({"schema": {"const": "true"}}, required=False))
    return {
        "/v1/operations": {
            "post": {"summary": "Submit an operation (202), or plan it with ?dry_run=true (200)",
                     "parameters": [*query_parameters(queries.SubmitQuery, defs),
                                    key_header("Idempotency-Key"), key_header("X-Request-ID")],
                     "requestBody": _body(ref("OperationSubmission")),
                     "responses": {"202": submitted,
                                   "200": json_response(schemas.DryRunOut, "the dry-run plan; nothing queued"),
                                   **problems(400, 409, 413, 422, 503)}},
            "get": {"summary": "List operations, newest first",
                    "parameters": query_parameters(queries.OperationsQuery, defs),
                    "responses": {"200": json_response(schemas.OperationPage, "a page"),
                                  **problems(400, 422, 503)}},
        },
        "/v1/operations/{id}": {"get": {
            "summary": "One operation", "parameters": [_OPERATION_ID],
            "responses": {"200": json_response(schemas.OperationOut, "the operation",
                                               Retry_After=header(SECONDS, required=False)),
                          **problems(404, 503)}}},
        "/v1/operations/{id}/devices": {"get": {
            "summary": "Per-device outcomes",
            "parameters": [_OPERATION_ID, *query_parameters(queries.Page, defs)],
            "responses": {"200": json_response(schemas.OutcomePage, "a page"),
                          **problems(400, 404, 422, 503)}}},
        "/v1/operations/{id}/resume": {"post": {
            "summary": "Resume a paused (manual-approval) rollout", "parameters": [_OPERATION_ID],
            "responses": {"202": json_response(schemas.OperationOut, "resuming", **_LOCATED),
                          **problems(404, 409, 503)}}},
        "/v1/operations/{id}/cancel": {"post": {
            "summary": "Cancel an operation", "parameters": [_OPERATION_ID],
            "responses": {"202": json_response(schemas.OperationOut, "cancelling", **_LOCATED),
                          **problems(404, 409, 503)}}},
    }


def _devices(defs: dict[str, Any]) -> dict[str, Any]:
    device = json_response(schemas.DeviceOut, "the device")
    return {
        "/v1/devices": {
            "post": {"summary": "Upsert a batch of devices, all or nothing",
                     "requestBody": _body(schema_of(devices.DeviceBatch)),
                     "responses": {"200": json_response(schemas.UpsertedOut, "upserted"),
                                   **problems(400, 413, 422, 503)}},
            "get": {"summary": "List devices by id",
                    "parameters": query_parameters(queries.DevicesQuery, defs),
                    "responses": {"200": json_response(schemas.DevicePage, "a page"),
                                  **problems(400, 422, 503)}},
        },
        "/v1/devices/{id}": {
            "put": {"summary": "Upsert one device", "parameters": [_DEVICE_ID],
                    "requestBody": _body(ref(schemas.DeviceUpdate)),
                    "responses": {"200": device, **problems(400, 413, 422, 503)}},
            "get": {"summary": "One device", "parameters": [_DEVICE_ID],
                    "responses": {"200": device, **problems(404, 503)}},
        },
    }


def _firmware(defs: dict[str, Any]) -> dict[str, Any]:
    stored = {"Location": header(URI, required=True), "Content_Location": header(URI, required=True)}
    return {
        "/v1/firmware": {
            "post": {"summary": "Upload a firmware image (201); the same image, version and profile "
                                "again returns the stored artifact (200)",
                     "parameters": query_parameters(schemas.FirmwareQuery, defs),
                     "requestBody": _body({"type": "string", "format": "binary"}, "application/octet-stream"),
                     "responses": {"201": json_response(schemas.FirmwareOut, "stored", **stored),
                                   "200": json_response(schemas.FirmwareOut, "already stored", **stored),
                                   **problems(400, 409, 413, 415, 422, 503)}},
            "get": {"summary": "List firmware artifacts, newest first",
                    "parameters": query_parameters(queries.FirmwareListQuery, defs),
                    "responses": {"200": json_response(schemas.FirmwarePage, "a page"),
                                  **problems(400, 422, 503)}},
        },
        "/v1/firmware/{id}": {"get": {
            "summary": "One firmware artifact", "parameters": [path_id(UUID, "the artifact's id")],
            "responses": {"200": json_response(schemas.FirmwareOut, "the artifact"), **problems(404, 503)}}},
        "/v1/audit": {"get": {
            "summary": "The key audit log, newest first",
            "parameters": query_parameters(queries.AuditQuery, defs),
            "responses": {"200": json_response(audit.AuditPage, "a page"), **problems(400, 422, 503)}}},
    }


def _service() -> dict[str, Any]:
    text = {"description": "text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "/healthz": {"get": {"summary": "Liveness",
                             "responses": {"200": json_response(schemas.HealthOut, "alive")}}},
        "/readyz": {"get": {"summary": "Readiness: Postgres, the background loops "
                                       "(and Ray where this process runs operations)",
                            "responses": {"200": json_response(schemas.ReadinessOut, "ready"),
                                          "503": json_response(schemas.ReadinessOut, "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": text}}},
        "/openapi.json": {"get": {"summary": "This document",
                                  "responses": {"200": json_response({"type": "object"}, "OpenAPI 3.1")}}},
    }
