"""A JSONResponse rendered by orjson: the intake's and the operation reads' answers."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """As Starlette's JSONResponse (UTF-8, compact), encoded by orjson (several times faster)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
