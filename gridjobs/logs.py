"""structlog configuration: the only module that touches logging globals.

JSON lines when stderr is not a TTY, a readable console otherwise.
`operation_id` and `device_id` are bound through contextvars.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


class _CurrentStderr:
    """Whatever sys.stderr is at each write: while a rich live display holds the terminal
    (gridjobs.progress), that is rich's proxy, which prints the line above the display."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(*, json: bool | None = None, level: str = "info", stream: TextIO | None = None) -> None:
    stream = stream or _CurrentStderr()  # type: ignore[assignment]
    use_json = (not stream.isatty()) if json is None else json
    renderer = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks if use_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.getLogger("ray._private.worker").addFilter(_not_ray_sigterm_note)


def _not_ray_sigterm_note(record: logging.LogRecord) -> bool:
    """ray.init on a worker thread (gridjobs.runtime) notes that it set no SIGTERM
    handler; that is intended, as gridjobs.shutdown handles SIGTERM."""
    return not record.getMessage().startswith("SIGTERM handler is not set")
