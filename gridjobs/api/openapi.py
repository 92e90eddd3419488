"""/openapi.json, generated from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gridjobs import intake
from gridjobs.api import audit, schemas
from gridjobs.kinds import KINDS

_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/problem+json": {"schema": _ref(schemas.Problem)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "malformed JSON", 404: "not found", 409: "conflict", 413: "body over 1 MiB",
            415: "unsupported media type", 422: "validation failed",
            503: "overloaded: the lane is full or too many requests are in flight (Retry-After)"}
    return {str(c): _problem(text[c]) for c in codes}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required, "schema": field}
            for name, field in schema["properties"].items()]


def build_openapi() -> dict[str, Any]:
    models = [intake.OperationIn, schemas.OperationOut, schemas.OperationPage, schemas.DeviceIn,
              schemas.DeviceOut, schemas.DevicePage, schemas.OutcomePage, schemas.FirmwareOut,
              schemas.FirmwarePage, schemas.Problem, audit.AuditOut, audit.AuditPage,
              *[k.params_model for k in KINDS.values()]]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    op = _ref(schemas.OperationOut)
    paths = {
        "/v1/operations": {
            "post": {
                "summary": "Submit an operation (202), or plan it with ?dry_run=true (200)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(intake.OperationIn)}}},
                "responses": {"202": _json(schemas.OperationOut, "accepted"), "200": {"description": "dry-run plan"},
                              **_errors(400, 409, 413, 422, 503)},
            },
            "get": {"summary": "List operations, newest first",
                    "responses": {"200": _json(schemas.OperationPage, "a page"), **_errors(422)}},
        },
        "/v1/operations/{id}": {"get": {"summary": "One operation",
                                        "responses": {"200": {"description": "the operation", "content": {"application/json": {"schema": op}}}, **_errors(404)}}},
        "/v1/operations/{id}/devices": {"get": {"summary": "Per-device outcomes",
                                                "responses": {"200": _json(schemas.OutcomePage, "a page"), **_errors(404, 422)}}},
        "/v1/operations/{id}/resume": {"post": {"summary": "Resume a paused (manual-approval) rollout",
                                                "responses": {"202": _json(schemas.OperationOut, "resuming"), **_errors(404, 409)}}},
        "/v1/operations/{id}/cancel": {"post": {"summary": "Cancel an operation",
                                                "responses": {"202": _json(schemas.OperationOut, "cancelling"), **_errors(404, 409)}}},
        "/v1/devices": {
            "post": {"summary": "Upsert a batch of devices, all or nothing",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "array", "items": _ref(schemas.DeviceIn)}}}},
                     "responses": {"200": {"description": "upserted"}, **_errors(400, 413, 422)}},
            "get": {"summary": "List devices (filters: feeder, profile)",
                    "responses": {"200": _json(schemas.DevicePage, "a page"), **_errors(422)}},
        },
        "/v1/devices/{id}": {
            "put": {"summary": "Upsert one device", "responses": {"200": _json(schemas.DeviceOut, "the device"), **_errors(400, 422)}},
            "get": {"summary": "One device", "responses": {"200": _json(schemas.DeviceOut, "the device"), **_errors(404)}},
        },
        "/v1/firmware": {
            "post": {
                "summary": "Upload a firmware image (201); the same image, version and profile again "
                           "returns the stored artifact (200)",
                "parameters": _query_parameters(schemas.FirmwareQuery),
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": _json(schemas.FirmwareOut, "stored"),
                              "200": _json(schemas.FirmwareOut, "already stored"),
                              **_errors(409, 415, 422),
                              "413": _problem("image over firmware_max_bytes (16 MiB by default)")},
            },
            "get": {"summary": "List firmware artifacts, newest first (filter: profile)",
                    "responses": {"200": _json(schemas.FirmwarePage, "a page"), **_errors(422)}},
        },
        "/v1/firmware/{id}": {"get": {"summary": "One firmware artifact",
                                      "responses": {"200": _json(schemas.FirmwareOut, "the artifact"), **_errors(404)}}},
        "/v1/audit": {"get": {"summary": "The key audit log, newest first (filters: device_id, operation_id)",
                              "parameters": _query_parameters(audit.AuditQuery),
                              "responses": {"200": _json(audit.AuditPage, "a page"), **_errors(422)}}},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Readiness: Postgres and Ray", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition"}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    }
    return {"openapi": "3.1.0", "info": {"title": "gridjobs", "version": "0.1.0"},
            "paths": paths, "components": {"schemas": defs["$defs"]}}
