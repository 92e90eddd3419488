"""Validating plain data against a pydantic model; every failure is ValidationFailed
with the fields that failed, as the API renders them.

Also the string type every request model uses for free text: `text(...)`
refuses control characters (a NUL cannot be stored, and none makes sense in a
name, a host or an id) and lone surrogates (they cannot be encoded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic import TypeAdapter, ValidationError
from pydantic_core import core_schema

from gridjobs.errors import QUOTE_LIMIT, ValidationFailed, excerpt

M = TypeVar("M", bound=BaseModel)

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"  # what /openapi.json says (surrogates aside)


def _printable(value: str) -> str:
    found = _UNPRINTABLE.search(value)
    if found:
        raise ValueError(f"must not contain control characters "
                         f"(U+{ord(found[0]):04X} at position {found.start()})")
    return value


@dataclass(frozen=True)
class _Printable:
    """Annotated marker: validate `_printable` and document the pattern."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler):
        return core_schema.no_info_after_validator_function(_printable, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler):
        found = handler(schema)
        found.setdefault("pattern", PRINTABLE_PATTERN)
        return found


PRINTABLE = _Printable()
Text = Annotated[str, PRINTABLE]


def text(*, max_length: int, min_length: int = 1) -> Any:
    """A printable string of `min_length` to `max_length` characters."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), PRINTABLE]


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        path = excerpt(".".join(str(p) for p in err["loc"]), QUOTE_LIMIT)
        errors.append({"field": f"{prefix}{path}" if path else prefix.rstrip(".") or "body",
                       "message": err["msg"]})
    return errors


def validate(model: type[M] | TypeAdapter, data: Any, *, prefix: str = "",
             what: str = "request") -> M:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc, prefix=prefix)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ValidationFailed(f"invalid {what}: {summary}", extra={"errors": errors}) from exc
