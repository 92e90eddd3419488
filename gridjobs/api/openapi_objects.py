"""OpenAPI objects (schemas, parameters, responses, headers) made from pydantic models and types."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, RootModel, TypeAdapter, create_model

from gridjobs import intake
from gridjobs.api import schemas
from gridjobs.api.problems import MEDIA_TYPE as PROBLEM
from gridjobs.kinds import KINDS

REF = "#/components/schemas/{model}"
SECONDS = {"schema": {"type": "string", "pattern": "^[0-9]+$"}}
URI = {"schema": {"type": "string"}}
_ERRORS = {400: "malformed JSON, or a query parameter given twice",
           401: "no valid identity: a missing, malformed, unknown, expired or revoked credential",
           403: "the principal lacks the role, or the request reaches outside its area",
           429: "the principal's request budget is spent: retry after Retry-After seconds",
           404: "no such resource",
           409: "conflict", 413: "body over the limit", 415: "unsupported media type",
           422: "validation failed", 503: "storage unavailable: retry after Retry-After seconds"}


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


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    return {"$ref": REF.format(model=model if isinstance(model, str) else model.__name__)}


def schema_of(adapted: Any) -> dict[str, Any]:
    """The JSON schema of a type or TypeAdapter, its models referenced in components."""
    adapter = adapted if isinstance(adapted, TypeAdapter) else TypeAdapter(adapted)
    found = adapter.json_schema(ref_template=REF)
    found.pop("$defs", None)  # every model is in components already
    return found


def json_response(body: dict[str, Any] | type[BaseModel], description: str, **headers: dict) -> dict:
    """A JSON response; header names are given with _ for - (Retry_After)."""
    schema = body if isinstance(body, dict) else ref(body)
    found: dict[str, Any] = {"description": description,
                             "content": {"application/json": {"schema": schema}}}
    if headers:
        found["headers"] = {name.replace("_", "-"): h for name, h in headers.items()}
    return found


def header(spec: dict, *, required: bool) -> dict:
    return {**spec, "required": required}


def problems(*codes: int) -> dict[str, Any]:
    """Error responses: problem+json; a 503 always carries Retry-After."""
    found = {str(c): {"description": _ERRORS[c], "content": {PROBLEM: {"schema": ref(schemas.Problem)}}}
             for c in codes}
    if "503" in found:
        found["503"]["headers"] = {"Retry-After": header(SECONDS, required=True)}
    if "401" in found:
        found["401"]["headers"] = {"WWW-Authenticate": header(URI, required=True)}
    if "429" in found:
        found["429"]["headers"] = {"Retry-After": header(SECONDS, required=True),
                                   "RateLimit": header(URI, required=True),
                                   "RateLimit-Policy": header(URI, required=True)}
    return found


def path_id(adapted: Any, description: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": description,
            "schema": schema_of(adapted)}


def query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as parameters (`defs` holds its schema)."""
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


def key_header(name: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": schema_of(intake.IdempotencyKey),
            "description": "the same key and body replays the first answer; a different body is a 422"}
