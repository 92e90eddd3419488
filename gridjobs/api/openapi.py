"""/openapi.json, generated from the same pydantic models that validate requests.

Bodies, query strings, path ids and headers all come from the models and
types the endpoints validate with (schemas.py, queries.py, intake.py, the
kinds' params); this module only says which goes where.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, Field, RootModel, TypeAdapter, create_model
from pydantic.json_schema import models_json_schema

from gridjobs import intake
from gridjobs.api import audit, devices, queries, schemas
from gridjobs.api.problems import MEDIA_TYPE as PROBLEM
from gridjobs.kinds import KINDS

_REF = "#/components/schemas/{model}"
_ERRORS = {400: "malformed JSON, or a query parameter given twice", 404: "no such resource",
           409: "conflict", 413: "body over the limit", 415: "unsupported media type",
           422: "validation failed", 503: "storage unavailable: retry after Retry-After seconds"}
_SECONDS = {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
_URI = {"schema": {"type": "string"}}


def submission_model() -> type[BaseModel]:
    """OperationIn as a oneOf by kind, each with its kind's params model.

    For the document only: OperationIn validates the kind first and then the
    params with the kind's model, so that errors name params.xxx.
    """
    variants = [create_model(f"{name.title().replace('_', '')}Submission", __base__=intake.OperationIn,
                             kind=(Literal[name], Field(description="operation kind")),
                             params=(kind.params_model, ...))
                for name, kind in KINDS.items()]
    union = Annotated[Union[tuple(variants)], Field(discriminator="kind")]  # type: ignore[valid-type]
    return create_model("OperationSubmission", __base__=RootModel[union])


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _schema(adapted: Any) -> dict[str, Any]:
    adapter = adapted if isinstance(adapted, TypeAdapter) else TypeAdapter(adapted)
    schema = adapter.json_schema(ref_template=_REF)
    schema.pop("$defs", None)  # every model is in components already
    return schema


def _json(schema: dict[str, Any] | type[BaseModel], description: str, **headers: dict) -> dict:
    body = schema if isinstance(schema, dict) else _ref(schema)
    found: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": body}}}
    if headers:
        found["headers"] = {name.replace("_", "-"): h for name, h in headers.items()}
    return found


def _header(spec: dict, *, required: bool) -> dict:
    return {**spec, "required": required}


def _errors(*codes: int) -> dict[str, Any]:
    found = {str(c): {"description": _ERRORS[c], "content": {PROBLEM: {"schema": _ref(schemas.Problem)}}}
             for c in codes}
    if "503" in found:
        found["503"]["headers"] = {"Retry-After": _header(_SECONDS, required=True)}
    return found


def _path_id(adapted: Any, description: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": _schema(adapted)}


def _query(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = defs[model.__name__]
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "description": field.get("description", ""), "schema": _not_null(field)}
            for name, field in schema["properties"].items()]


def _not_null(field: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value; it is never null."""
    kept = {k: v for k, v in field.items() if k not in ("anyOf", "title", "description")
            and not (k == "default" and v is None)}
    options = [o for o in field.get("anyOf", ()) if o.get("type") != "null"]
    return {**kept, **(options[0] if len(options) == 1 else {})}


def _key_header(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": _schema(intake.IdempotencyKey),
            "description": "the same key and body replays the first answer; a different body is a 422"}


# Query strings become parameters; they are not components of their own.
_QUERIES = (queries.OperationsQuery, queries.Page, queries.DevicesQuery, queries.FirmwareListQuery,
            queries.AuditQuery, queries.SubmitQuery, schemas.FirmwareQuery)


def _models() -> list[type[BaseModel]]:
    return [submission_model(), schemas.OperationOut, schemas.OperationPage, schemas.DryRunOut,
            schemas.DeviceIn, schemas.DeviceUpdate, schemas.DeviceOut, schemas.DevicePage,
            schemas.UpsertedOut, schemas.OutcomePage, schemas.FirmwareOut, schemas.FirmwarePage,
            schemas.Problem, schemas.HealthOut, schemas.ReadinessOut, audit.AuditOut, audit.AuditPage,
            *[k.params_model for k in KINDS.values()], *_QUERIES]


def build_openapi() -> dict[str, Any]:
    _, found = models_json_schema([(m, "validation") for m in _models()], ref_template=_REF)
    defs = found["$defs"]
    paths = _paths(defs)
    for model in _QUERIES:
        del defs[model.__name__]
    return {"openapi": "3.1.0", "info": {"title": "gridjobs", "version": "0.1.0"},
            "paths": paths, "components": {"schemas": defs}}


def _paths(defs: dict[str, Any]) -> dict[str, Any]:
    op_id = _path_id(UUID, "the operation's id")
    located = {"Location": _header(_URI, required=True),
               "Retry_After": _header(_SECONDS, required=False)}
    return {
        "/v1/operations": {
            "post": {
                "summary": "Submit an operation (202), or plan it with ?dry_run=true (200)",
                "parameters": [*_query(queries.SubmitQuery, defs), _key_header("Idempotency-Key"),
                               _key_header("X-Request-ID")],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": _REF.format(model="OperationSubmission")}}}},
                "responses": {"202": _json(schemas.OperationOut, "accepted (or replayed)",
                                           Operation_Location=_header(_URI, required=True),
                                           Idempotent_Replayed=_header({"schema": {"const": "true"}}, required=False),
                                           **located),
                              "200": _json(schemas.DryRunOut, "the dry-run plan; nothing is queued"),
                              **_errors(400, 409, 413, 422, 503)},
            },
            "get": {"summary": "List operations, newest first",
                    "parameters": _query(queries.OperationsQuery, defs),
                    "responses": {"200": _json(schemas.OperationPage, "a page"), **_errors(400, 422, 503)}},
        },
        "/v1/operations/{id}": {"get": {
            "summary": "One operation", "parameters": [op_id],
            "responses": {"200": _json(schemas.OperationOut, "the operation",
                                       Retry_After=_header(_SECONDS, required=False)),
                          **_errors(404, 503)}}},
        "/v1/operations/{id}/devices": {"get": {
            "summary": "Per-device outcomes", "parameters": [op_id, *_query(queries.Page, defs)],
            "responses": {"200": _json(schemas.OutcomePage, "a page"), **_errors(400, 404, 422, 503)}}},
        "/v1/operations/{id}/resume": {"post": {
            "summary": "Resume a paused (manual-approval) rollout", "parameters": [op_id],
            "responses": {"202": _json(schemas.OperationOut, "resuming", **located),
                          **_errors(404, 409, 503)}}},
        "/v1/operations/{id}/cancel": {"post": {
            "summary": "Cancel an operation", "parameters": [op_id],
            "responses": {"202": _json(schemas.OperationOut, "cancelling", **located),
                          **_errors(404, 409, 503)}}},
        "/v1/devices": {
            "post": {"summary": "Upsert a batch of devices, all or nothing",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": _schema(devices.DeviceBatch)}}},
                     "responses": {"200": _json(schemas.UpsertedOut, "upserted"),
                                   **_errors(400, 413, 422, 503)}},
            "get": {"summary": "List devices by id", "parameters": _query(queries.DevicesQuery, defs),
                    "responses": {"200": _json(schemas.DevicePage, "a page"), **_errors(400, 422, 503)}},
        },
        "/v1/devices/{id}": {
            "put": {"summary": "Upsert one device",
                    "parameters": [_path_id(schemas.DeviceId, "the device's id")],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref(schemas.DeviceUpdate)}}},
                    "responses": {"200": _json(schemas.DeviceOut, "the device"),
                                  **_errors(400, 413, 422, 503)}},
            "get": {"summary": "One device", "parameters": [_path_id(schemas.DeviceId, "the device's id")],
                    "responses": {"200": _json(schemas.DeviceOut, "the device"), **_errors(404, 503)}},
        },
        "/v1/firmware": {
            "post": {
                "summary": "Upload a firmware image (201); the same image, version and profile again "
                           "returns the stored artifact (200)",
                "parameters": _query(schemas.FirmwareQuery, defs),
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": _json(schemas.FirmwareOut, "stored", **_stored()),
                              "200": _json(schemas.FirmwareOut, "already stored", **_stored()),
                              **_errors(400, 409, 413, 415, 422, 503)},
            },
            "get": {"summary": "List firmware artifacts, newest first",
                    "parameters": _query(queries.FirmwareListQuery, defs),
                    "responses": {"200": _json(schemas.FirmwarePage, "a page"), **_errors(400, 422, 503)}},
        },
        "/v1/firmware/{id}": {"get": {
            "summary": "One firmware artifact", "parameters": [_path_id(UUID, "the artifact's id")],
            "responses": {"200": _json(schemas.FirmwareOut, "the artifact"), **_errors(404, 503)}}},
        "/v1/audit": {"get": {"summary": "The key audit log, newest first",
                              "parameters": _query(queries.AuditQuery, defs),
                              "responses": {"200": _json(audit.AuditPage, "a page"), **_errors(400, 422, 503)}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json(schemas.HealthOut, "alive")}}},
        "/readyz": {"get": {"summary": "Readiness: Postgres (and Ray where this process runs operations)",
                            "responses": {"200": _json(schemas.ReadinessOut, "ready"),
                                          "503": _json(schemas.ReadinessOut, "not ready")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
            "description": "text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {
            "200": _json({"type": "object"}, "OpenAPI 3.1")}}},
    }


def _stored() -> dict[str, dict]:
    return {"Location": _header(_URI, required=True), "Content_Location": _header(_URI, required=True)}
