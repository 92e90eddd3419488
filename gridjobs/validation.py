"""Validating plain data against a pydantic model; every failure is ValidationFailed
with the fields that failed, as the API renders them."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from gridjobs.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err["loc"])
        errors.append({"field": f"{prefix}{path}" if path else prefix.rstrip(".") or "body",
                       "message": err["msg"]})
    return errors


def validate(model: type[M] | TypeAdapter, data: Any, *, prefix: str = "") -> M:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc, prefix=prefix)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(f"invalid request: {summary}", extra={"errors": errors}) from exc
